#ifndef PARAM_SERVER_COMMON_VARIABLE_SPEC_H_
#define PARAM_SERVER_COMMON_VARIABLE_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>

#include "common/dtype.h"
#include "common/initializer_spec.h"
#include "common/tensor_shape.h"

namespace paramserver {

// tf.get_variable's `reuse` argument.
enum class ReuseMode {
  kCreate,     // reuse=False: an existing full name is ALREADY_EXISTS.
  kReuse,      // reuse=True: a missing full name is NOT_FOUND.
  kAutoReuse,  // reuse=tf.AUTO_REUSE: get the variable or create it.
};

// One tf.get_variable call, as the server receives it.
struct VariableRequest {
  std::string scope;  // "" at the top level.
  std::string name;   // Within the scope; the full name is scope + "/" + name.
  ReuseMode reuse = ReuseMode::kCreate;
  // Required to create unless a constant initializer implies it; when reusing,
  // nullopt matches any shape.
  std::optional<TensorShape> shape;
  // nullopt means float32, TensorFlow's default, for creating and reusing.
  std::optional<DType> dtype;
  InitializerSpec initializer;
  bool trainable = true;
};

// What a client learns about a variable.
struct VariableInfo {
  std::string name;  // Full name.
  TensorShape shape;
  DType dtype = DType::kFloat;
  int64_t version = 0;  // 1 at creation; each update increments it.
  bool trainable = true;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_VARIABLE_SPEC_H_
