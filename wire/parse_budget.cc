#include "wire/parse_budget.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace paramserver {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Per object: a message (its class, arena pointers, cached size), a string
// or bytes field (std::string and its heap block), an unknown field (its
// UnknownField record, a slot in the set's vector), with the slot of a
// repeated field's array (which grows by doubling). Rounded up.
constexpr size_t kMessageCost = 96;
constexpr size_t kStringCost = 48;
constexpr size_t kUnknownFieldCost = 48;
constexpr size_t kRepeatedNumberCost = 8;
// Protobuf's own default nesting limit.
constexpr int kMaxDepth = 100;

bool IsFixedWidth(const FieldDescriptor& field) {
  switch (field.type()) {
    case FieldDescriptor::TYPE_DOUBLE:
    case FieldDescriptor::TYPE_FLOAT:
    case FieldDescriptor::TYPE_FIXED64:
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED64:
    case FieldDescriptor::TYPE_SFIXED32:
      return true;
    default:
      return false;
  }
}

class Estimator {
 public:
  explicit Estimator(CodedInputStream* in) : in_(in) {}

  // Walks fields until the end of the current limit or a malformed field.
  // Returns false on malformed input.
  bool Walk(const Descriptor& type, int depth) {
    while (const uint32_t tag = in_->ReadTag()) {
      const int number = WireFormatLite::GetTagFieldNumber(tag);
      const WireFormatLite::WireType wire_type =
          WireFormatLite::GetTagWireType(tag);
      const FieldDescriptor* field = type.FindFieldByNumber(number);
      if (field == nullptr) {
        bytes_ += kUnknownFieldCost;
        if (!SkipCounted(tag)) return false;
        continue;
      }
      if (wire_type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED &&
          field->type() == FieldDescriptor::TYPE_MESSAGE) {
        if (depth >= kMaxDepth) return false;
        uint32_t length = 0;
        if (!in_->ReadVarint32(&length)) return false;
        bytes_ += kMessageCost;
        const CodedInputStream::Limit limit = in_->PushLimit(length);
        if (!Walk(*field->message_type(), depth + 1)) return false;
        if (!in_->ConsumedEntireMessage()) return false;
        in_->PopLimit(limit);
        continue;
      }
      if (wire_type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED &&
          field->is_repeated() &&
          field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
        // Packed numbers: fixed-width ones take in memory what they take on
        // the wire; a varint may be one byte and become eight.
        uint32_t length = 0;
        if (!in_->ReadVarint32(&length)) return false;
        if (!in_->Skip(static_cast<int>(length))) return false;
        // Repeated fields grow by doubling: up to twice their elements.
        bytes_ +=
            2 * (IsFixedWidth(*field) ? size_t{length}
                                      : size_t{length} * kRepeatedNumberCost);
        continue;
      }
      if (wire_type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        bytes_ += kStringCost;
        if (!SkipCounted(tag)) return false;
        continue;
      }
      if (field->is_repeated()) bytes_ += 2 * kRepeatedNumberCost;
      if (!WireFormatLite::SkipField(in_, tag)) return false;
    }
    return true;
  }

  size_t bytes() const { return bytes_; }

 private:
  // Skips a field, counting the length of a length-delimited one.
  bool SkipCounted(uint32_t tag) {
    if (WireFormatLite::GetTagWireType(tag) !=
        WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      return WireFormatLite::SkipField(in_, tag);
    }
    // A length is counted only once its bytes are there: a malformed length
    // is the parse's to report, not a cost.
    uint32_t length = 0;
    if (!in_->ReadVarint32(&length)) return false;
    if (!in_->Skip(static_cast<int>(length))) return false;
    bytes_ += length;
    return true;
  }

  CodedInputStream* const in_;
  size_t bytes_ = 0;
};

}  // namespace

size_t EstimateParseBytes(const Descriptor& type,
                          google::protobuf::io::ZeroCopyInputStream* input) {
  CodedInputStream in(input);
  // The walk reads no more than the parse would; lift the 64 MiB default
  // total limit as the parse from a ZeroCopyInputStream does.
  in.SetTotalBytesLimit(INT32_MAX);
  Estimator estimator(&in);
  estimator.Walk(type, 0);
  return estimator.bytes() + kMessageCost;
}

absl::Status CheckParseBudget(
    const Descriptor& type, size_t wire_bytes,
    google::protobuf::io::ZeroCopyInputStream* input) {
  const size_t estimate = EstimateParseBytes(type, input);
  if (estimate <= wire_bytes + kMaxParseOverheadBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      type.full_name(), " of ", wire_bytes, " bytes would take about ",
      estimate, " bytes to parse (at most ", kMaxParseOverheadBytes,
      " bytes more than it carries): too many items or fields in one "
      "request."));
}

}  // namespace paramserver
