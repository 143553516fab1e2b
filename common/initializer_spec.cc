#include "common/initializer_spec.h"

namespace paramserver {

bool IsBroadcastConstant(const InitializerSpec& spec) {
  if (!spec.value_shape.has_value()) return spec.values.size() <= 1;
  return spec.value_shape->empty() && spec.values.size() == 1;
}

TensorShape ConstantListShape(const InitializerSpec& spec) {
  if (spec.value_shape.has_value()) return *spec.value_shape;
  return {static_cast<int64_t>(spec.values.size())};
}

const char* InitializerName(InitializerKind kind) {
  switch (kind) {
    case InitializerKind::kDefault:
      return "default";
    case InitializerKind::kZeros:
      return "zeros";
    case InitializerKind::kOnes:
      return "ones";
    case InitializerKind::kConstant:
      return "constant";
    case InitializerKind::kRandomUniform:
      return "random_uniform";
    case InitializerKind::kRandomNormal:
      return "random_normal";
    case InitializerKind::kTruncatedNormal:
      return "truncated_normal";
    case InitializerKind::kGlorotUniform:
      return "glorot_uniform";
    case InitializerKind::kGlorotNormal:
      return "glorot_normal";
    case InitializerKind::kVarianceScaling:
      return "variance_scaling";
  }
  return "unknown";
}

std::optional<TensorShape> ImpliedShape(const InitializerSpec& spec) {
  if (spec.kind != InitializerKind::kConstant || spec.values.empty()) {
    return std::nullopt;
  }
  if (IsBroadcastConstant(spec)) return TensorShape{};
  return ConstantListShape(spec);
}

}  // namespace paramserver
