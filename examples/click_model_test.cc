#include "examples/click_model.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

ClickData Data(int64_t buckets = 1 << 12) {
  ClickModelOptions options;
  options.buckets = buckets;
  auto data = ClickData::Create(options);
  EXPECT_TRUE(data.ok()) << data.status();
  return *std::move(data);
}

TEST(ClickDataTest, SamplesAreTheSameForTheSameSeedAndDifferOtherwise) {
  const ClickData data = Data();
  const ClickBatch a = data.Sample(500, 7), b = data.Sample(500, 7),
                   c = data.Sample(500, 8);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_NE(a.ids, c.ids);
  ASSERT_EQ(a.ids.size(), 500u * data.ids_per_example());
  ASSERT_EQ(a.labels.size(), 500u);
  const size_t per_example = data.ids_per_example();
  for (size_t k = 0; k < a.ids.size(); ++k) {
    ASSERT_GE(a.ids[k], 0);
    ASSERT_LT(a.ids[k], 1 << 12);
    // The last id of every example is the bias's, the same for all.
    if (k % per_example == per_example - 1) {
      EXPECT_EQ(a.ids[k], data.HashedId(-1, 0));
    }
  }
}

TEST(ClickDataTest, LabelsCarrySignalTheHiddenModelSees) {
  const ClickBatch batch = Data().Sample(20000, 1);
  double clicks = 0;
  for (float label : batch.labels) clicks += label;
  const double rate = clicks / batch.labels.size();
  EXPECT_GT(rate, 0.15);
  EXPECT_LT(rate, 0.5);
  // The hidden model predicts its labels clearly better than the base rate.
  EXPECT_LT(batch.hidden_log_loss, BaseRateLogLoss(batch) - 0.05);
}

TEST(ClickDataTest, RejectsEmptyShapesAndDegenerateDistributions) {
  ClickModelOptions options;
  options.buckets = 0;
  EXPECT_EQ(ClickData::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = ClickModelOptions();
  options.hidden_stddev = 0;
  EXPECT_EQ(ClickData::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = ClickModelOptions();
  options.zipf_s = -1;
  EXPECT_EQ(ClickData::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LogLossAndGradientTest, MatchesFiniteDifferences) {
  const ClickData data = Data();
  const ClickBatch batch = data.Sample(16, 3);
  std::vector<float> weights(batch.ids.size());
  for (size_t k = 0; k < weights.size(); ++k) {
    weights[k] = 0.1f * static_cast<float>(k % 7) - 0.3f;
  }
  std::vector<float> gradient;
  auto loss =
      LogLossAndGradient(batch, data.ids_per_example(), weights, &gradient);
  ASSERT_TRUE(loss.ok()) << loss.status();
  ASSERT_EQ(gradient.size(), weights.size());
  // With all-zero weights every probability is 1/2: the loss is log 2.
  std::vector<float> zeros(weights.size(), 0.0f), unused;
  EXPECT_NEAR(
      *LogLossAndGradient(batch, data.ids_per_example(), zeros, &unused),
      std::log(2.0), 1e-6);
  constexpr float kStep = 1e-3f;
  for (size_t k : {size_t{0}, size_t{5}, weights.size() - 1}) {
    std::vector<float> up = weights, down = weights;
    up[k] += kStep;
    down[k] -= kStep;
    const double numeric =
        (*LogLossAndGradient(batch, data.ids_per_example(), up, &unused) -
         *LogLossAndGradient(batch, data.ids_per_example(), down, &unused)) /
        (2 * kStep);
    EXPECT_NEAR(gradient[k], numeric, 1e-4) << "weight " << k;
  }
}

TEST(LogLossAndGradientTest, RejectsMismatchedSizes) {
  const ClickData data = Data();
  const ClickBatch batch = data.Sample(4, 3);
  std::vector<float> weights(batch.ids.size() - 1), gradient;
  auto loss =
      LogLossAndGradient(batch, data.ids_per_example(), weights, &gradient);
  EXPECT_EQ(loss.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace paramserver
