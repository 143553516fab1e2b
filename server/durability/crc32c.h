#ifndef PARAM_SERVER_SERVER_DURABILITY_CRC32C_H_
#define PARAM_SERVER_SERVER_DURABILITY_CRC32C_H_

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// TensorFlow's tensor bundles, leveldb's logs and iSCSI. Debian's abseil
// (20220623) predates absl::crc32c, hence this file. Uses the SSE4.2 crc32
// instruction when the CPU has it, a slicing-by-8 table otherwise; both give
// identical results. Thread-safe.

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace paramserver {

// The CRC-32C of data[0, n) continuing from `crc`, the CRC-32C of the bytes
// before them (0 for none): Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n);

inline uint32_t Crc32c(absl::string_view data) {
  return Crc32cExtend(0, data.data(), data.size());
}

namespace crc32c_internal {
// The two implementations, exposed so tests can compare them. Hardware is
// only valid to call when HasHardwareCrc32c().
uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n);
uint32_t ExtendHardware(uint32_t crc, const char* data, size_t n);
bool HasHardwareCrc32c();
}  // namespace crc32c_internal

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_CRC32C_H_
