#include "client/json_format.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/tensor_shape.h"

namespace paramserver {
namespace {

template <typename T>
T Load(const char* data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return value;
}

void AppendFloating(double value, int digits, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  absl::StrAppendFormat(out, "%.*g", digits, value);
}

void AppendElement(DType dtype, const char* data, std::string* out) {
  switch (dtype) {
    case DType::kFloat:
      return AppendFloating(Load<float>(data), 9, out);
    case DType::kDouble:
      return AppendFloating(Load<double>(data), 17, out);
    case DType::kInt32:
      return absl::StrAppend(out, Load<int32_t>(data));
    case DType::kInt64:
      return absl::StrAppend(out, Load<int64_t>(data));
    case DType::kBool:
      return absl::StrAppend(out, data[0] != 0 ? "true" : "false");
  }
}

}  // namespace

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

absl::StatusOr<std::string> ValuesToJson(const VariableInfo& info,
                                         absl::string_view bytes) {
  absl::StatusOr<uint64_t> needed = ValueByteSize(info.shape, info.dtype);
  if (!needed.ok() && !absl::IsOutOfRange(needed.status())) {
    return needed.status();
  }
  const size_t element_size = DTypeSize(info.dtype);
  if (!needed.ok() || bytes.size() != *needed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Value of ", info.name, " has ", bytes.size(), " bytes; shape ",
        ShapeToString(info.shape), " and dtype ", DTypeName(info.dtype),
        " need ", NumElements(info.shape).value_or(0), " elements of ",
        element_size, " bytes."));
  }
  const int64_t elements = static_cast<int64_t>(*needed / element_size);
  std::string out = "[";
  for (int64_t i = 0; i < elements; ++i) {
    if (i > 0) out += ",";
    AppendElement(info.dtype, bytes.data() + i * element_size, &out);
  }
  out += "]";
  return out;
}

absl::StatusOr<std::string> VariableToJson(const VariableInfo& info,
                                           const bool* created,
                                           const absl::string_view* values) {
  std::string out = absl::StrCat(
      "{\"name\":", JsonString(info.name), ",\"shape\":[",
      absl::StrJoin(info.shape, ","), "],\"dtype\":",
      JsonString(DTypeName(info.dtype)), ",\"version\":", info.version,
      ",\"trainable\":", info.trainable ? "true" : "false");
  if (created != nullptr) {
    absl::StrAppend(&out, ",\"created\":", *created ? "true" : "false");
  }
  if (values != nullptr) {
    absl::StatusOr<std::string> array = ValuesToJson(info, *values);
    if (!array.ok()) return array.status();
    absl::StrAppend(&out, ",\"values\":", *array);
  }
  out += "}";
  return out;
}

}  // namespace paramserver
