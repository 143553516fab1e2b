#include "server/durability/log_format.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/dtype.h"
#include "common/tensor_shape.h"
#include "server/durability/coding.h"
#include "server/durability/crc32c.h"
#include "server/durability/env.h"

namespace paramserver {
namespace {

constexpr absl::string_view kSegmentPrefix = "wal-";
constexpr absl::string_view kSegmentSuffix = ".log";
constexpr int kSequenceDigits = 20;

// The sequence of "wal-<20 digits>.log", or -1.
int64_t ParseSegmentName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kSegmentPrefix) ||
      !absl::ConsumeSuffix(&name, kSegmentSuffix) ||
      name.size() != kSequenceDigits) {
    return -1;
  }
  int64_t sequence;
  if (!absl::SimpleAtoi(name, &sequence) || sequence < 0) return -1;
  return sequence;
}

}  // namespace

std::string WalSegmentName(int64_t checkpoint_sequence) {
  return absl::StrFormat("%s%0*d%s", kSegmentPrefix, kSequenceDigits,
                         checkpoint_sequence, kSegmentSuffix);
}

namespace wal {

bool IsKnownType(uint8_t type) {
  return type >= static_cast<uint8_t>(WalRecordType::kCheckpoint) &&
         type <= static_cast<uint8_t>(WalRecordType::kTableChange);
}

uint32_t RecordCrc(char type, absl::Span<const absl::string_view> pieces) {
  uint32_t crc = Crc32cExtend(0, &type, 1);
  for (absl::string_view piece : pieces) {
    crc = Crc32cExtend(crc, piece.data(), piece.size());
  }
  return crc;
}

uint64_t TotalSize(absl::Span<const absl::string_view> pieces) {
  uint64_t size = 0;
  for (absl::string_view piece : pieces) size += piece.size();
  return size;
}

std::string EncodeHeader(WalRecordType type,
                         absl::Span<const absl::string_view> pieces) {
  const char type_byte = static_cast<char>(type);
  std::string header;
  PutFixed64(&header, TotalSize(pieces));
  PutFixed32(&header, RecordCrc(type_byte, pieces));
  header.push_back(type_byte);
  PutFixed32(&header, Crc32cExtend(0, header.data(), header.size()));
  return header;
}

std::optional<Header> DecodeHeader(absl::string_view data,
                                   uint64_t* checksummed) {
  if (data.size() < kHeaderSize) return std::nullopt;
  *checksummed += kHeaderCrcOffset;
  if (Crc32cExtend(0, data.data(), kHeaderCrcOffset) !=
      DecodeFixed32(data.data() + kHeaderCrcOffset)) {
    return std::nullopt;
  }
  return Header{DecodeFixed64(data.data()), DecodeFixed32(data.data() + 8),
                static_cast<uint8_t>(data[kTypeOffset])};
}

// INVALID_ARGUMENT unless `value` is exactly a value of info's dtype/shape.
absl::Status CheckValue(const VariableInfo& info, absl::string_view value) {
  if (!IsValidDType(static_cast<int>(info.dtype))) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid dtype for ", info.name));
  }
  absl::StatusOr<uint64_t> needed = ValueByteSize(info.shape, info.dtype);
  if (!needed.ok() && !absl::IsOutOfRange(needed.status())) {
    return needed.status();
  }
  if (!needed.ok() || value.size() != *needed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value of ", value.size(), " bytes does not fit ", info.name, " ",
        DTypeName(info.dtype), ShapeToString(info.shape)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> ListSegments(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(dir);
  if (absl::IsNotFound(names.status())) return std::vector<int64_t>();
  if (!names.ok()) return names.status();
  std::vector<int64_t> sequences;
  for (const std::string& name : *names) {
    const int64_t sequence = ParseSegmentName(name);
    if (sequence >= 0) sequences.push_back(sequence);
  }
  std::sort(sequences.begin(), sequences.end());
  return sequences;
}

}  // namespace wal
}  // namespace paramserver
