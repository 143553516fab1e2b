#ifndef PARAM_SERVER_EXAMPLES_IMAGE_FILTER_H_
#define PARAM_SERVER_EXAMPLES_IMAGE_FILTER_H_

// TensorFlow's my_image_filter, with its variables on the parameter server.
//
//   def conv_relu(input, kernel_shape, bias_shape):
//       weights = tf.get_variable("weights", kernel_shape,
//           initializer=tf.random_normal_initializer())
//       biases = tf.get_variable("biases", bias_shape,
//           initializer=tf.constant_initializer(0.0))
//       conv = tf.nn.conv2d(input, weights, strides=[1, 1, 1, 1],
//       padding='SAME') return tf.nn.relu(conv + biases)
//
//   def my_image_filter(input_images):
//       with tf.variable_scope("conv1"):
//           relu1 = conv_relu(input_images, [5, 5, 32, 32], [32])
//       with tf.variable_scope("conv2"):
//           return conv_relu(relu1, [5, 5, 32, 32], [32])
//
// GetVariables resolves against the calling thread's current scope, so the
// same create / reuse rules apply as in TensorFlow. The convolutions run
// locally with oneDNN (kernels/).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/client.h"
#include "kernels/image_filter_net.h"

namespace paramserver {

struct ImageFilterOptions {
  int64_t kernel = 5;
  int64_t channels = 32;
  // random_normal_initializer()'s stddev for the weights; 1.0 is TF's
  // default. Training starts better from a smaller one.
  double weights_stddev = 1.0;
  std::optional<int64_t> seed;
};

// The four variables, as fetched (values included).
struct ImageFilterVariables {
  FetchedVariable conv1_weights, conv1_biases, conv2_weights, conv2_biases;

  std::vector<const FetchedVariable*> all() const {
    return {&conv1_weights, &conv1_biases, &conv2_weights, &conv2_biases};
  }
};

// The scoped version: conv1/weights, conv1/biases, conv2/weights,
// conv2/biases under the current scope, created or reused as its reuse mode
// says.
absl::StatusOr<ImageFilterVariables> GetImageFilterVariables(
    VariableClient& client, const ImageFilterOptions& options);

// The tf.Variable version: every call creates four new variables named
// conv1_weights, conv1_biases, conv2_weights, conv2_biases, uniquified with
// _1, _2, ... as TensorFlow uniquifies tf.Variable names.
absl::StatusOr<ImageFilterVariables> CreateUnsharedImageFilterVariables(
    VariableClient& client, const ImageFilterOptions& options);

// Applies the filter to NHWC images with the given variables' values.
// Thread-compatible.
class ImageFilter {
 public:
  static absl::StatusOr<std::unique_ptr<ImageFilter>> Create(
      const kernels::ImageFilterParams& params);

  // `output` has as many floats as `images`.
  absl::Status Apply(const ImageFilterVariables& variables,
                     absl::Span<const float> images, absl::Span<float> output);

 private:
  explicit ImageFilter(std::unique_ptr<kernels::ImageFilterNet> net)
      : net_(std::move(net)) {}

  std::unique_ptr<kernels::ImageFilterNet> net_;
  int64_t weights_version_ = 0;  // Local: bumped for every set of weights.
};

// The values of a float32 variable.
absl::Span<const float> FloatsOf(const FetchedVariable& variable);

// An image of `elements` floats uniform in [0, 1), the same for the same
// seed: the demo's and the tests' input.
std::vector<float> RandomImage(int64_t elements, unsigned seed);

}  // namespace paramserver

#endif  // PARAM_SERVER_EXAMPLES_IMAGE_FILTER_H_
