#include "wire/zero_copy_reader.h"

#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"

namespace paramserver {
namespace {

using google::protobuf::internal::WireFormatLite;

absl::Status Malformed(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("Malformed message: ", what, "."));
}

// One field's tag, split.
struct Tag {
  uint64_t field = 0;
  int wire_type = 0;
};

absl::Status ReadTag(WireReader& reader, Tag* tag) {
  uint64_t raw = 0;
  if (absl::Status s = reader.ReadVarint(&raw); !s.ok()) return s;
  tag->field = raw >> WireFormatLite::kTagTypeBits;
  tag->wire_type = static_cast<int>(raw & WireFormatLite::kTagTypeMask);
  if (tag->field == 0) return Malformed("field number 0");
  return absl::OkStatus();
}

absl::Status ExpectWireType(const Tag& tag, int wire_type) {
  if (tag.wire_type == wire_type) return absl::OkStatus();
  return Malformed(absl::StrCat("field ", tag.field, " has wire type ",
                                tag.wire_type, ", expected ", wire_type));
}

// Merges a VariableInfo sub-message, as protobuf does for a repeated one.
absl::Status ReadVariableInfo(WireReader& reader, rpc::VariableInfo* info) {
  WireSpan span;
  if (absl::Status s = reader.ReadLengthDelimited(&span); !s.ok()) return s;
  if (!info->MergeFromString(reader.SpanToString(span))) {
    return Malformed("VariableInfo does not parse");
  }
  return absl::OkStatus();
}

absl::Status ReadBool(WireReader& reader, const Tag& tag, bool* value) {
  absl::Status s = ExpectWireType(tag, WireFormatLite::WIRETYPE_VARINT);
  if (!s.ok()) return s;
  uint64_t raw = 0;
  s = reader.ReadVarint(&raw);
  if (!s.ok()) return s;
  *value = raw != 0;
  return absl::OkStatus();
}

// Fields of one PulledVariable, up to `end` bytes remaining.
absl::Status ReadPulledVariable(WireReader& reader, size_t end,
                                PulledVariableView* out) {
  while (reader.remaining() > end) {
    Tag tag;
    absl::Status s = ReadTag(reader, &tag);
    if (!s.ok()) return s;
    switch (tag.field) {
      case rpc::PulledVariable::kVariableFieldNumber:
        s = ExpectWireType(tag, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
        if (s.ok()) s = ReadVariableInfo(reader, &out->variable);
        break;
      case rpc::PulledVariable::kUnchangedFieldNumber:
        s = ReadBool(reader, tag, &out->unchanged);
        break;
      case rpc::PulledVariable::kStreamedFieldNumber:
        s = ReadBool(reader, tag, &out->streamed);
        break;
      case rpc::PulledVariable::kValueFieldNumber:
        s = ExpectWireType(tag, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
        if (s.ok()) s = reader.ReadLengthDelimited(&out->value);
        break;
      default:
        s = reader.SkipField(tag.wire_type);
    }
    if (!s.ok()) return s;
  }
  if (reader.remaining() != end) return Malformed("field overruns its message");
  return absl::OkStatus();
}

// ValueChunk and PushChunk share their layout under different names: a
// sub-message (the first chunk's metadata), a varint, the offset and the
// data. Each chunk's field numbers, from its generated constants.
struct ChunkFields {
  uint64_t head;
  uint64_t varint;
  uint64_t offset;
  uint64_t data;
};

constexpr ChunkFields kValueChunkFields = {
    rpc::ValueChunk::kVariableFieldNumber,
    rpc::ValueChunk::kUnchangedFieldNumber, rpc::ValueChunk::kOffsetFieldNumber,
    rpc::ValueChunk::kDataFieldNumber};

constexpr ChunkFields kPushChunkFields = {
    rpc::PushChunk::kRequestFieldNumber, rpc::PushChunk::kIndexFieldNumber,
    rpc::PushChunk::kOffsetFieldNumber, rpc::PushChunk::kDataFieldNumber};

// What a chunk holds besides its head, as last seen on the wire.
struct ChunkTail {
  uint64_t varint = 0;
  int64_t offset = 0;
  WireSpan data;
};

// Reads a chunk numbered by `fields`: `read_head(reader)` reads the value of
// each occurrence of the sub-message, in order; the other fields go to
// `*tail` (the last occurrence wins, as in protobuf).
absl::Status DecodeChunk(WireReader& reader, const ChunkFields& fields,
                         absl::FunctionRef<absl::Status(WireReader&)> read_head,
                         ChunkTail* tail) {
  while (reader.remaining() > 0) {
    Tag tag;
    absl::Status s = ReadTag(reader, &tag);
    if (!s.ok()) return s;
    if (tag.field == fields.head) {
      s = ExpectWireType(tag, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
      if (s.ok()) s = read_head(reader);
    } else if (tag.field == fields.varint) {
      s = ExpectWireType(tag, WireFormatLite::WIRETYPE_VARINT);
      if (s.ok()) s = reader.ReadVarint(&tail->varint);
    } else if (tag.field == fields.offset) {
      uint64_t raw = 0;
      s = ExpectWireType(tag, WireFormatLite::WIRETYPE_VARINT);
      if (s.ok()) s = reader.ReadVarint(&raw);
      tail->offset = static_cast<int64_t>(raw);
    } else if (tag.field == fields.data) {
      s = ExpectWireType(tag, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
      if (s.ok()) s = reader.ReadLengthDelimited(&tail->data);
    } else {
      s = reader.SkipField(tag.wire_type);
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WireReader> WireReader::Create(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  if (buffer.Valid()) {
    grpc::Status status = buffer.Dump(&slices);
    if (!status.ok()) return Malformed(status.error_message());
  }
  return WireReader(std::move(slices));
}

WireReader::WireReader(std::vector<grpc::Slice> slices)
    : slices_(std::move(slices)) {
  for (const grpc::Slice& slice : slices_) remaining_ += slice.size();
}

void WireReader::Advance(size_t length) {
  remaining_ -= length;
  while (length > 0) {
    const size_t step = std::min(length, slices_[slice_].size() - offset_);
    offset_ += step;
    length -= step;
    if (offset_ == slices_[slice_].size()) {
      ++slice_;
      offset_ = 0;
    }
  }
  // Skip empty slices so that the position always names a readable byte.
  while (slice_ < slices_.size() && offset_ == slices_[slice_].size()) {
    ++slice_;
    offset_ = 0;
  }
}

absl::Status WireReader::ReadVarint(uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (remaining_ == 0) return Malformed("truncated varint");
    if (offset_ == slices_[slice_].size()) Advance(0);
    const uint8_t byte = slices_[slice_].begin()[offset_];
    Advance(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return absl::OkStatus();
    }
  }
  return Malformed("varint longer than 10 bytes");
}

absl::Status WireReader::ReadLengthDelimited(WireSpan* span) {
  uint64_t length = 0;
  if (absl::Status s = ReadVarint(&length); !s.ok()) return s;
  if (length > remaining_) {
    return Malformed(absl::StrCat("length ", length, " with only ", remaining_,
                                  " bytes left"));
  }
  if (length > 0 && offset_ == slices_[slice_].size()) Advance(0);
  *span = WireSpan{slice_, offset_, static_cast<size_t>(length)};
  Advance(static_cast<size_t>(length));
  return absl::OkStatus();
}

absl::Status WireReader::SkipField(int wire_type) {
  switch (wire_type) {
    case WireFormatLite::WIRETYPE_VARINT: {
      uint64_t ignored;
      return ReadVarint(&ignored);
    }
    case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
      WireSpan ignored;
      return ReadLengthDelimited(&ignored);
    }
    case WireFormatLite::WIRETYPE_FIXED64:
    case WireFormatLite::WIRETYPE_FIXED32: {
      const size_t length =
          wire_type == WireFormatLite::WIRETYPE_FIXED64 ? 8 : 4;
      if (length > remaining_) return Malformed("truncated fixed-width field");
      Advance(length);
      return absl::OkStatus();
    }
    default:
      return Malformed(absl::StrCat("unsupported wire type ", wire_type));
  }
}

void WireReader::CopySpan(const WireSpan& span, char* out) const {
  size_t slice = span.slice;
  size_t offset = span.offset;
  size_t left = span.length;
  while (left > 0) {
    const size_t step = std::min(left, slices_[slice].size() - offset);
    std::memcpy(out, slices_[slice].begin() + offset, step);
    out += step;
    left -= step;
    ++slice;
    offset = 0;
  }
}

void WireReader::AppendSpan(const WireSpan& span, std::string* out) const {
  out->reserve(out->size() + span.length);
  size_t slice = span.slice;
  size_t offset = span.offset;
  size_t left = span.length;
  while (left > 0) {
    const size_t step = std::min(left, slices_[slice].size() - offset);
    out->append(reinterpret_cast<const char*>(slices_[slice].begin()) + offset,
                step);
    left -= step;
    ++slice;
    offset = 0;
  }
}

std::string WireReader::SpanToString(const WireSpan& span) const {
  std::string out(span.length, '\0');
  CopySpan(span, out.data());
  return out;
}

absl::StatusOr<std::vector<PulledVariableView>> DecodePullResponse(
    WireReader& reader) {
  std::vector<PulledVariableView> variables;
  while (reader.remaining() > 0) {
    Tag tag;
    absl::Status s = ReadTag(reader, &tag);
    if (!s.ok()) return s;
    if (tag.field != rpc::PullResponse::kVariablesFieldNumber) {
      if (s = reader.SkipField(tag.wire_type); !s.ok()) return s;
      continue;
    }
    s = ExpectWireType(tag, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
    if (!s.ok()) return s;
    uint64_t length = 0;
    if (s = reader.ReadVarint(&length); !s.ok()) return s;
    if (length > reader.remaining()) return Malformed("truncated variable");
    PulledVariableView& view = variables.emplace_back();
    s = ReadPulledVariable(reader, reader.remaining() - length, &view);
    if (!s.ok()) return s;
  }
  return variables;
}

absl::StatusOr<ValueChunkView> DecodeValueChunk(WireReader& reader) {
  ValueChunkView chunk;
  ChunkTail tail;
  absl::Status s = DecodeChunk(
      reader, kValueChunkFields,
      [&chunk](WireReader& r) {
        chunk.has_variable = true;
        return ReadVariableInfo(r, &chunk.variable);
      },
      &tail);
  if (!s.ok()) return s;
  chunk.unchanged = tail.varint != 0;
  chunk.offset = tail.offset;
  chunk.data = tail.data;
  return chunk;
}

absl::StatusOr<PushChunkView> DecodePushChunk(WireReader& reader) {
  PushChunkView chunk;
  ChunkTail tail;
  absl::Status s = DecodeChunk(
      reader, kPushChunkFields,
      [&chunk](WireReader& r) {
        chunk.has_request = true;
        WireSpan span;
        absl::Status status = r.ReadLengthDelimited(&span);
        if (status.ok()) r.AppendSpan(span, &chunk.request);
        return status;
      },
      &tail);
  if (!s.ok()) return s;
  chunk.index = static_cast<int32_t>(tail.varint);
  chunk.offset = tail.offset;
  chunk.data = tail.data;
  return chunk;
}

}  // namespace paramserver
