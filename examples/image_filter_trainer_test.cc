#include "examples/image_filter_trainer.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

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
  const std::vector<float> images = Random(n, 1, 0, 1), targets = Random(n, 2, 0, 1);
  FilterTensors weights = {Random(81, 3, -0.3f, 0.5f), Random(3, 4, 0.1f, 0.3f),
                           Random(81, 5, -0.3f, 0.5f), Random(3, 6, 0.1f, 0.3f)};
  int64_t version = 1;
  auto views = [&] {
    return FilterViews{weights[0], weights[1], weights[2], weights[3]};
  };
  FilterTensors gradients;
  ASSERT_TRUE((*trainer)->LossAndGradients(views(), version, images, targets, &gradients).ok());
  FilterTensors scratch;
  const float eps = 1e-2f;
  int checked = 0;
  for (int t = 0; t < 4; ++t) {
    for (size_t i = 0; i < weights[t].size(); i += 7) {
      const float saved = weights[t][i];
      weights[t][i] = saved + eps;
      const double plus = *(*trainer)->LossAndGradients(views(), ++version, images, targets, &scratch);
      weights[t][i] = saved - eps;
      const double minus = *(*trainer)->LossAndGradients(views(), ++version, images, targets, &scratch);
      weights[t][i] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(gradients[t][i], numeric, 2e-3 + 0.05 * std::abs(numeric))
          << "tensor " << t << " element " << i;
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

TEST(ImageFilterTrainerTest, RejectsMismatchedTargets) {
  auto trainer = ImageFilterTrainer::Create({.batch = 1, .size = 4, .channels = 2, .kernel = 3});
  ASSERT_TRUE(trainer.ok());
  FilterTensors weights = {std::vector<float>(36), std::vector<float>(2),
                           std::vector<float>(36), std::vector<float>(2)};
  FilterTensors gradients;
  std::vector<float> images(32), targets(31);
  EXPECT_EQ((*trainer)
                ->LossAndGradients({weights[0], weights[1], weights[2], weights[3]}, 1,
                                   images, targets, &gradients)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace paramserver
