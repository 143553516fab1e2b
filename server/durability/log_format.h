#ifndef PARAM_SERVER_SERVER_DURABILITY_LOG_FORMAT_H_
#define PARAM_SERVER_SERVER_DURABILITY_LOG_FORMAT_H_

// The write-ahead log: every change to the store since the last checkpoint,
// as the resulting state (a created variable with its initial value, a
// deletion, a variable's new value and version), so that replay needs no
// optimizer and gives the same bytes every time.
//
// On disk, in one directory, segments `wal-<checkpoint sequence, 20
// digits>.log`. Segment N holds the changes made after checkpoint N was
// begun (N = 0: since the store was empty) and starts with a kCheckpoint
// record of N. A segment is a sequence of records:
//   u64 payload length | u32 CRC-32C of (type byte, payload) | u8 type |
//   u32 CRC-32C of the 13 header bytes before it | payload
// The header's own CRC lets replay trust a length before reading the payload
// it claims: a header that fails it, or a length past the end of the file,
// is rejected without a CRC over the payload, so a torn tail of any size is
// recognised in one step (a damaged header, in one linear search).
// with payloads (integers little-endian, names as u32 length + bytes):
//   kCheckpoint      u64 sequence
//   kCreateVariable  name, u32 dtype, u32 rank, rank x i64 dims,
//                    u8 flags (1 trainable, 2 slot), i64 version, value bytes
//   kDeleteVariable  name
//   kPush            u32 count, then per variable (and slot) the push
//                    changed: name, i64 version, u64 value size, value
//                    bytes -- one record per push, so replay applies a
//                    push whole or not at all
//   kPushWithId      a push that carried a push id: the id (as a name),
//                    u32 n, n x u32 indices of the pushed variables among
//                    the values (the push's answer, in request order), then
//                    kPush's payload
//   kPushIds         the push ids the store remembered when a checkpoint
//                    began (written right after its segment's kCheckpoint
//                    record, so that the ids survive the older segments):
//                    u32 count, then per id: the id, u32 n, n x (name, u32
//                    dtype, u32 rank, rank x i64 dims, u8 flags (1
//                    trainable), i64 version) -- the answer
//   kPushRows        a sparse push (VariableStore::PushRows): u64 n, n x
//                    i64 row ids (distinct), then kPush's payload where
//                    each value holds only those rows, n x row bytes in the
//                    ids' order, of the variable and of each slot
//   kPushRowsWithId  a sparse push that carried a push id: the id (as a
//                    name), u32 1, u32 0 (the answer: the variable, the
//                    first value), then kPushRows's payload
//   kCreateTable     a dynamic table: name, then its spec
//                    (server/durability/table_codec.h)
//   kTableChange     one change to a dynamic table: name, then the change
//                    (table_codec.h): rows written whole, rows evicted
//
// kPushWithId, kPushIds, kPushRows, kPushRowsWithId, kCreateTable and
// kTableChange came later than the others: logs
// written before them read unchanged; a reader older than them stops at such
// a record (unknown type).
//
// This file is what the writer (log_writer.h) and the reader (log_reader.h)
// share, as leveldb's db/log_format.h.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/variable_spec.h"

namespace paramserver {

enum class WalRecordType : uint8_t {
  kCheckpoint = 1,
  kCreateVariable = 2,
  kDeleteVariable = 3,
  kPush = 4,
  kPushWithId = 5,
  kPushIds = 6,
  kPushRows = 7,
  kPushRowsWithId = 8,
  kCreateTable = 9,
  kTableChange = 10,
};

namespace wal {

// u64 payload length, u32 payload CRC, u8 type, u32 CRC of those 13 bytes.
inline constexpr size_t kHeaderSize = 17;
inline constexpr size_t kHeaderCrcOffset = 13;
inline constexpr size_t kTypeOffset = 12;
// Far above any push the memory limits allow; a length past it is damage.
inline constexpr uint64_t kMaxPayload = uint64_t{1} << 40;
// kCreateVariable's flags byte.
inline constexpr uint8_t kFlagTrainable = 1;
inline constexpr uint8_t kFlagSlot = 2;

bool IsKnownType(uint8_t type);
// The CRC-32C of the type byte, then `pieces` (the payload).
uint32_t RecordCrc(char type, absl::Span<const absl::string_view> pieces);
uint64_t TotalSize(absl::Span<const absl::string_view> pieces);
// The 17-byte header of a record of `type` whose payload is `pieces`.
std::string EncodeHeader(WalRecordType type,
                         absl::Span<const absl::string_view> pieces);

// A record header whose own CRC verifies; its length and type are then as
// written, so a bad one is rejected in O(1) before any payload is read.
struct Header {
  uint64_t length;
  uint32_t payload_crc;
  uint8_t type;
};
// The header at the start of `data`, or nullopt when too short or its CRC
// fails; adds the bytes CRCed to *checksummed.
std::optional<Header> DecodeHeader(absl::string_view data,
                                   uint64_t* checksummed);

// INVALID_ARGUMENT unless `value` is exactly a value of info's dtype/shape.
absl::Status CheckValue(const VariableInfo& info, absl::string_view value);

// The sequences of the segments "wal-<20 digits>.log" in `dir`, ascending;
// none when `dir` is missing.
absl::StatusOr<std::vector<int64_t>> ListSegments(const std::string& dir);

}  // namespace wal

// "wal-00000000000000000042.log".
std::string WalSegmentName(int64_t checkpoint_sequence);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_LOG_FORMAT_H_
