#include "common/dtype.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace paramserver {

bool IsValidDType(int value) {
  switch (static_cast<DType>(value)) {
    case DType::kFloat:
    case DType::kDouble:
    case DType::kInt32:
    case DType::kInt64:
    case DType::kBool:
      return true;
  }
  return false;
}

bool IsFloatingDType(DType dtype) {
  return dtype == DType::kFloat || dtype == DType::kDouble;
}

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat:
    case DType::kInt32:
      return 4;
    case DType::kDouble:
    case DType::kInt64:
      return 8;
    case DType::kBool:
      return 1;
  }
  return 0;
}

absl::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat:
      return "float32";
    case DType::kDouble:
      return "float64";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kBool:
      return "bool";
  }
  return "invalid";
}

absl::StatusOr<DType> ParseDType(absl::string_view name) {
  if (name == "float32" || name == "float") return DType::kFloat;
  if (name == "float64" || name == "double") return DType::kDouble;
  if (name == "int32") return DType::kInt32;
  if (name == "int64") return DType::kInt64;
  if (name == "bool") return DType::kBool;
  return absl::InvalidArgumentError(
      absl::StrCat("Unknown dtype '", name,
                   "'; expected one of float32, float64, int32, int64, bool."));
}

}  // namespace paramserver
