#include "examples/image_filter.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "client/get_variable.h"
#include "client/variable_scope.h"

namespace paramserver {
namespace {

InitializerSpec RandomNormal(const ImageFilterOptions& options) {
  InitializerSpec init;
  init.kind = InitializerKind::kRandomNormal;
  init.stddev = options.weights_stddev;
  init.seed = options.seed;
  return init;
}

InitializerSpec Zeros() {
  InitializerSpec init;
  init.kind = InitializerKind::kConstant;
  init.values = {0.0};
  return init;
}

// conv_relu's two get_variable calls.
absl::Status GetConvReluVariables(VariableClient& client,
                                  const ImageFilterOptions& options,
                                  FetchedVariable* weights,
                                  FetchedVariable* biases) {
  const int64_t k = options.kernel, c = options.channels;
  absl::StatusOr<FetchedVariable> w = GetVariable(
      client, "weights", TensorShape{k, k, c, c},
      {.initializer = RandomNormal(options)}, /*return_value=*/true);
  if (!w.ok()) return w.status();
  absl::StatusOr<FetchedVariable> b = GetVariable(
      client, "biases", TensorShape{c}, {.initializer = Zeros()}, true);
  if (!b.ok()) return b.status();
  *weights = *std::move(w);
  *biases = *std::move(b);
  return absl::OkStatus();
}

// tf.Variable(initial_value, name=name): a new variable under the first free
// name among name, name_1, name_2, ...
absl::StatusOr<FetchedVariable> CreateUniqueVariable(
    VariableClient& client, const std::string& name, TensorShape shape,
    const InitializerSpec& initializer) {
  for (int suffix = 0;; ++suffix) {
    VariableRequest request;
    request.name = suffix == 0 ? name : absl::StrCat(name, "_", suffix);
    request.reuse = ReuseMode::kCreate;
    request.shape = shape;
    request.initializer = initializer;
    absl::StatusOr<FetchedVariable> created = client.GetVariable(request, true);
    if (created.status().code() != absl::StatusCode::kAlreadyExists) {
      return created;
    }
  }
}

}  // namespace

absl::StatusOr<ImageFilterVariables> GetImageFilterVariables(
    VariableClient& client, const ImageFilterOptions& options) {
  ImageFilterVariables variables;
  {
    VariableScope conv1("conv1");
    if (absl::Status s = GetConvReluVariables(
            client, options, &variables.conv1_weights, &variables.conv1_biases);
        !s.ok()) {
      return s;
    }
  }
  VariableScope conv2("conv2");
  if (absl::Status s = GetConvReluVariables(
          client, options, &variables.conv2_weights, &variables.conv2_biases);
      !s.ok()) {
    return s;
  }
  return variables;
}

absl::StatusOr<ImageFilterVariables> CreateUnsharedImageFilterVariables(
    VariableClient& client, const ImageFilterOptions& options) {
  const int64_t k = options.kernel, c = options.channels;
  ImageFilterVariables v;
  FetchedVariable* targets[] = {&v.conv1_weights, &v.conv1_biases,
                                &v.conv2_weights, &v.conv2_biases};
  const char* names[] = {"conv1_weights", "conv1_biases", "conv2_weights",
                         "conv2_biases"};
  for (int i = 0; i < 4; ++i) {
    const bool is_weight = i % 2 == 0;
    absl::StatusOr<FetchedVariable> created = CreateUniqueVariable(
        client, names[i], is_weight ? TensorShape{k, k, c, c} : TensorShape{c},
        is_weight ? RandomNormal(options) : Zeros());
    if (!created.ok()) return created.status();
    *targets[i] = *std::move(created);
  }
  return v;
}

absl::Span<const float> FloatsOf(const FetchedVariable& variable) {
  return absl::MakeConstSpan(
      reinterpret_cast<const float*>(variable.value.data()),
      variable.value.size() / sizeof(float));
}

absl::StatusOr<std::unique_ptr<ImageFilter>> ImageFilter::Create(
    const kernels::ImageFilterParams& params) {
  absl::StatusOr<std::unique_ptr<kernels::ImageFilterNet>> net =
      kernels::ImageFilterNet::Create(params);
  if (!net.ok()) return net.status();
  return std::unique_ptr<ImageFilter>(new ImageFilter(*std::move(net)));
}

absl::Status ImageFilter::Apply(const ImageFilterVariables& variables,
                                absl::Span<const float> images,
                                absl::Span<float> output) {
  if (absl::Status s = net_->SetWeights(
          FloatsOf(variables.conv1_weights), FloatsOf(variables.conv1_biases),
          FloatsOf(variables.conv2_weights), FloatsOf(variables.conv2_biases),
          ++weights_version_);
      !s.ok()) {
    return s;
  }
  return net_->Forward(images, output);
}

std::vector<float> RandomImage(int64_t elements, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> image(elements);
  for (float& x : image) x = uniform(rng);
  return image;
}

}  // namespace paramserver
