#ifndef PARAM_SERVER_SERVER_DURABILITY_CODING_H_
#define PARAM_SERVER_SERVER_DURABILITY_CODING_H_

// Little-endian fixed-width encoding for the on-disk formats (checkpoints,
// the write-ahead log), as leveldb's util/coding.h.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace paramserver {

void PutFixed32(std::string* out, uint32_t value);
void PutFixed64(std::string* out, uint64_t value);
// A u32 length, then the bytes.
void PutLengthPrefixed(std::string* out, absl::string_view bytes);

// Reads what the Put functions wrote. Each Read returns false, consuming
// nothing, when too few bytes remain.
class ByteReader {
 public:
  explicit ByteReader(absl::string_view data) : data_(data) {}

  bool ReadFixed8(uint8_t* value);
  bool ReadFixed32(uint32_t* value);
  bool ReadFixed64(uint64_t* value);
  bool ReadBytes(size_t n, absl::string_view* bytes);
  bool ReadLengthPrefixed(absl::string_view* bytes);
  size_t remaining() const { return data_.size(); }

 private:
  absl::string_view data_;
};

uint32_t DecodeFixed32(const char* p);
uint64_t DecodeFixed64(const char* p);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_CODING_H_
