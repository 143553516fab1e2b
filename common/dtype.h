#ifndef PARAM_SERVER_COMMON_DTYPE_H_
#define PARAM_SERVER_COMMON_DTYPE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paramserver {

// Element types of variables. The numbers are TensorFlow's DataType numbers,
// which proto/parameter_server.proto uses too, so conversion is a cast.
enum class DType : int {
  kFloat = 1,
  kDouble = 2,
  kInt32 = 3,
  kInt64 = 9,
  kBool = 10,
};

// True for the numbers above; false for anything else a wire value may hold.
bool IsValidDType(int value);

bool IsFloatingDType(DType dtype);

// Bytes per element: 4, 8, 4, 8, 1.
size_t DTypeSize(DType dtype);

// TensorFlow's names: "float32", "float64", "int32", "int64", "bool".
absl::string_view DTypeName(DType dtype);

// Accepts TensorFlow's names and the aliases "float" and "double".
// INVALID_ARGUMENT for anything else.
absl::StatusOr<DType> ParseDType(absl::string_view name);

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_DTYPE_H_
