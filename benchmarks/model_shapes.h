#ifndef PARAM_SERVER_BENCHMARKS_MODEL_SHAPES_H_
#define PARAM_SERVER_BENCHMARKS_MODEL_SHAPES_H_

// The parameter shapes of torchvision's ResNet-50, in its order: 161
// tensors, 25,557,032 float32 values (102 MB). What the model-sync
// benchmark moves; benchmarks/model_shapes.py is the same list for the
// PyTorch peer.

#include <vector>

#include "common/tensor_shape.h"

namespace paramserver {

inline std::vector<TensorShape> ResNet50Shapes() {
  std::vector<TensorShape> shapes;
  const auto conv_bn = [&](int64_t out, int64_t in, int64_t kernel) {
    shapes.push_back({out, in, kernel, kernel});
    shapes.push_back({out});  // Batch norm's weight ...
    shapes.push_back({out});  // ... and bias.
  };
  conv_bn(64, 3, 7);
  int64_t in = 64;
  const std::pair<int64_t, int> layers[] = {
      {64, 3}, {128, 4}, {256, 6}, {512, 3}};
  for (const auto& [planes, blocks] : layers) {
    for (int block = 0; block < blocks; ++block) {
      conv_bn(planes, in, 1);
      conv_bn(planes, planes, 3);
      conv_bn(planes * 4, planes, 1);
      if (block == 0) conv_bn(planes * 4, in, 1);  // Downsample.
      in = planes * 4;
    }
  }
  shapes.push_back({1000, 2048});
  shapes.push_back({1000});
  return shapes;
}

}  // namespace paramserver

#endif  // PARAM_SERVER_BENCHMARKS_MODEL_SHAPES_H_
