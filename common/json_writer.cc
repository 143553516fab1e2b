#include "common/json_writer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace paramserver {
namespace {

void AppendQuoted(absl::string_view text, std::string* out) {
  out->push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<int>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (has_value_.empty()) return;
  if (has_value_.back()) out_.push_back(',');
  has_value_.back() = true;
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  out_.push_back('{');
  has_value_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  out_.push_back('}');
  if (!has_value_.empty()) has_value_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  out_.push_back('[');
  has_value_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  out_.push_back(']');
  if (!has_value_.empty()) has_value_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::Key(absl::string_view name) {
  BeforeValue();
  AppendQuoted(name, &out_);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(absl::string_view text) {
  BeforeValue();
  AppendQuoted(text, &out_);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t value) {
  BeforeValue();
  absl::StrAppend(&out_, value);
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  absl::StrAppend(&out_, value);
  return *this;
}

void JsonWriter::AppendFloating(double value, int digits) {
  BeforeValue();
  if (std::isfinite(value)) {
    absl::StrAppendFormat(&out_, "%.*g", digits, value);
  } else {
    out_.append("null");
  }
}

JsonWriter& JsonWriter::Double(double value) {
  AppendFloating(value, 17);
  return *this;
}

JsonWriter& JsonWriter::Float(float value) {
  AppendFloating(value, 9);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  out_.append(value ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_.append("null");
  return *this;
}

std::string JsonString(absl::string_view text) {
  std::string out;
  AppendQuoted(text, &out);
  return out;
}

}  // namespace paramserver
