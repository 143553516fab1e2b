#include "examples/image_filter_trainer.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "kernels/reference_conv.h"

namespace paramserver {
namespace {

std::vector<float> Random(size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = uniform(rng);
  return v;
}

// The analytic gradients match central finite differences of the loss for
// every tensor, on a shape small enough to perturb each element.
TEST(ImageFilterTrainerTest, GradientsMatchFiniteDifferences) {
  const TrainerShape shape{.batch = 2, .size = 5, .channels = 3, .kernel = 3};
  auto trainer = ImageFilterTrainer::Create(shape);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  const int64_t n = (*trainer)->image_elements();
  const std::vector<float> images = Random(n, 1, 0, 1),
                           targets = Random(n, 2, 0, 1);
  FilterTensors weights = {Random(81, 3, -0.3f, 0.5f), Random(3, 4, 0.1f, 0.3f),
                           Random(81, 5, -0.3f, 0.5f),
                           Random(3, 6, 0.1f, 0.3f)};
  int64_t version = 1;
  auto views = [&] {
    return FilterViews{weights[0], weights[1], weights[2], weights[3]};
  };
  FilterTensors gradients;
  ASSERT_TRUE(
      (*trainer)
          ->LossAndGradients(views(), version, images, targets, &gradients)
          .ok());
  FilterTensors scratch;
  const float eps = 1e-2f;
  int checked = 0;
  for (int t = 0; t < 4; ++t) {
    for (size_t i = 0; i < weights[t].size(); i += 7) {
      const float saved = weights[t][i];
      weights[t][i] = saved + eps;
      const double plus = *(*trainer)->LossAndGradients(
          views(), ++version, images, targets, &scratch);
      weights[t][i] = saved - eps;
      const double minus = *(*trainer)->LossAndGradients(
          views(), ++version, images, targets, &scratch);
      weights[t][i] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(gradients[t][i], numeric, 2e-3 + 0.05 * std::abs(numeric))
          << "tensor " << t << " element " << i;
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

double MaxAbs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// The trainer's loss and gradients equal backpropagation through the
// double-precision reference convolution, on 1 and 2 threads, for channels
// that fill oneDNN's blocks of 16 and channels that do not.
TEST(ImageFilterTrainerTest, GradientsMatchReferenceConvolution) {
  for (const TrainerShape& shape : {TrainerShape{.batch = 2,
                                   .size = 9,
                                   .channels = 32,
                                   .kernel = 5,
                                   .num_threads = 1},
                                    TrainerShape{.batch = 3,
                                    .size = 8,
                                    .channels = 32,
                                    .kernel = 5,
                                    .num_threads = 2},
                                    TrainerShape{.batch = 2,
                                    .size = 6,
                                    .channels = 5,
                                    .kernel = 3,
                                    .num_threads = 2}}) {
    SCOPED_TRACE(testing::Message() << "channels " << shape.channels
                                    << " threads " << shape.num_threads);
    auto trainer = ImageFilterTrainer::Create(shape);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    const int64_t n = (*trainer)->image_elements();
    const int64_t c = shape.channels, w = shape.kernel * shape.kernel * c * c;
    const float scale =
        1.5f / std::sqrt(float(shape.kernel * shape.kernel * c));
    const std::vector<float> images = Random(n, 1, 0, 1),
                             targets = Random(n, 2, 0, 1);
    const FilterTensors weights = {
        Random(w, 3, -scale, scale), Random(c, 4, -0.1f, 0.1f),
        Random(w, 5, -scale, scale), Random(c, 6, -0.1f, 0.1f)};
    FilterTensors gradients;
    const absl::StatusOr<double> loss = (*trainer)->LossAndGradients(
        {weights[0], weights[1], weights[2], weights[3]}, 1, images, targets,
        &gradients);
    ASSERT_TRUE(loss.ok()) << loss.status();

    kernels::Conv2DParams p;
    p.batch = shape.batch;
    p.in_h = p.in_w = shape.size;
    p.in_c = p.out_c = c;
    p.kernel_h = p.kernel_w = shape.kernel;
    p.fuse_relu = true;
    auto d = [](const std::vector<float>& v) {
      return std::vector<double>(v.begin(), v.end());
    };
    const std::vector<double> x = d(images), w2 = d(weights[2]);
    const std::vector<double> h =
        kernels::ReferenceConv2D(p, x, d(weights[0]), d(weights[1]));
    const std::vector<double> out =
        kernels::ReferenceConv2D(p, h, w2, d(weights[3]));
    double sum = 0;
    std::vector<double> g(out.size());
    for (size_t i = 0; i < out.size(); ++i) {
      const double diff = out[i] - targets[i];
      sum += diff * diff;
      g[i] = out[i] > 0 ? 2 * diff / out.size() : 0;
    }
    std::vector<double> expected[4];
    kernels::ReferenceConv2DBackwardWeights(p, h, g, &expected[2],
                                            &expected[3]);
    std::vector<double> gh = kernels::ReferenceConv2DBackwardData(p, g, w2);
    for (size_t i = 0; i < gh.size(); ++i) gh[i] = h[i] > 0 ? gh[i] : 0;
    kernels::ReferenceConv2DBackwardWeights(p, x, gh, &expected[0],
                                            &expected[1]);

    EXPECT_NEAR(*loss, sum / out.size(), 1e-5 * sum / out.size());
    for (int t = 0; t < 4; ++t) {
      ASSERT_EQ(gradients[t].size(), expected[t].size());
      const double tolerance = 1e-5 * MaxAbs(expected[t]);
      for (size_t i = 0; i < expected[t].size(); ++i) {
        ASSERT_NEAR(gradients[t][i], expected[t][i], tolerance)
            << "tensor " << t << " element " << i;
      }
    }
  }
}

TEST(ImageFilterTrainerTest, RejectsMismatchedTargets) {
  auto trainer = ImageFilterTrainer::Create(
      {.batch = 1, .size = 4, .channels = 2, .kernel = 3});
  ASSERT_TRUE(trainer.ok());
  FilterTensors weights = {std::vector<float>(36), std::vector<float>(2),
                           std::vector<float>(36), std::vector<float>(2)};
  FilterTensors gradients;
  std::vector<float> images(32), targets(31);
  EXPECT_EQ(
      (*trainer)
          ->LossAndGradients({weights[0], weights[1], weights[2], weights[3]},
                             1, images, targets, &gradients)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace paramserver
