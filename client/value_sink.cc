#include "client/value_sink.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace paramserver {

absl::StatusOr<size_t> ValueBytes(const VariableInfo& info) {
  absl::StatusOr<uint64_t> bytes = ValueByteSize(info.shape, info.dtype);
  if (!bytes.ok() && !absl::IsOutOfRange(bytes.status())) return bytes.status();
  if (!bytes.ok() ||
      *bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::DataLossError(absl::StrCat(
        "The server described ", info.name, " as ", ShapeToString(info.shape),
        " ", DTypeName(info.dtype), ": too large for any value."));
  }
  return static_cast<size_t>(*bytes);
}

absl::StatusOr<size_t> ValueSink::CheckedSize(const VariableInfo& info) const {
  absl::StatusOr<size_t> bytes = ValueBytes(info);
  if (!bytes.ok()) return bytes.status();
  if (into_buffer_ && buffer_.size() != *bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("The buffer for ", info.name, " has ", buffer_.size(),
                     " bytes; its value (shape ", ShapeToString(info.shape),
                     ", ", DTypeName(info.dtype), ") has ", *bytes, "."));
  }
  return bytes;
}

absl::Status ValueSink::Check(const VariableInfo& info) const {
  return CheckedSize(info).status();
}

absl::Status ValueSink::Begin(const VariableInfo& info) {
  absl::StatusOr<size_t> bytes = CheckedSize(info);
  if (!bytes.ok()) return bytes.status();
  size_ = *bytes;
  received_ = 0;
  if (!into_buffer_) {
    value_->clear();
    value_->reserve(size_);
  }
  return absl::OkStatus();
}

absl::Status ValueSink::Place(const WireReader& reader, const WireSpan& data,
                              int64_t offset) {
  if (offset < 0 || static_cast<uint64_t>(offset) > size_ ||
      data.length > size_ - static_cast<size_t>(offset)) {
    return absl::DataLossError("Chunk outside the value's bounds.");
  }
  const size_t at = static_cast<size_t>(offset);
  if (into_buffer_) {
    if (at != received_) {
      return absl::DataLossError(absl::StrCat(
          "Chunk at offset ", at, " where offset ", received_, " was due."));
    }
    if (data.length > 0) reader.CopySpan(data, buffer_.data() + at);
    received_ += data.length;
    return absl::OkStatus();
  }
  if (at == value_->size()) {
    reader.AppendSpan(data, value_);
  } else {
    if (at + data.length > value_->size()) value_->resize(at + data.length);
    reader.CopySpan(data, value_->data() + at);
  }
  received_ = value_->size();
  return absl::OkStatus();
}

}  // namespace paramserver
