// The image filter example over an in-process store (LocalVariableClient):
// the same create / reuse semantics as against a server, in milliseconds and
// without a network. tests/image_filter_e2e_test.cc runs it against the real
// server binary.
#include "examples/image_filter.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "client/variable_scope.h"
#include "examples/image_filter_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/local_variable_client.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int kSize = 12;
constexpr int kChannels = 8;
constexpr int64_t kElements = int64_t{kSize} * kSize * kChannels;

ImageFilterOptions SmallFilter() {
  ImageFilterOptions options;
  options.kernel = 3;
  options.channels = kChannels;
  options.weights_stddev = 0.1;
  return options;
}

std::vector<std::string> Names(LocalVariableClient& client) {
  absl::StatusOr<std::vector<VariableInfo>> listed = client.ListVariables("");
  EXPECT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> names;
  if (listed.ok()) {
    for (const VariableInfo& info : *listed) names.push_back(info.name);
  }
  return names;
}

std::vector<float> Apply(const ImageFilterVariables& variables,
                         const std::vector<float>& image) {
  std::vector<float> output(kElements);
  absl::StatusOr<std::unique_ptr<ImageFilter>> filter =
      ImageFilter::Create({.batch = 1,
                           .height = kSize,
                           .width = kSize,
                           .channels = kChannels,
                           .kernel = 3});
  EXPECT_TRUE(filter.ok()) << filter.status();
  if (filter.ok()) {
    EXPECT_TRUE(
        (*filter)->Apply(variables, image, absl::MakeSpan(output)).ok());
  }
  return output;
}

TEST(ImageFilterTest, TwoImagesOneSetOfWeights) {
  std::unique_ptr<LocalVariableClient> client = *LocalVariableClient::Create();
  FreshScopeStore fresh;
  absl::StatusOr<ImageFilterVariables> first =
      GetImageFilterVariables(*client, SmallFilter());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->conv1_weights.created);
  // tf.get_variable_scope().reuse_variables() before the second image.
  ReuseVariables();
  absl::StatusOr<ImageFilterVariables> second =
      GetImageFilterVariables(*client, SmallFilter());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->conv1_weights.created);
  EXPECT_THAT(Names(*client), ElementsAre("conv1/biases", "conv1/weights",
                                          "conv2/biases", "conv2/weights"));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(first->all()[i]->value, second->all()[i]->value) << i;
  }

  const std::vector<float> images[2] = {RandomImage(kElements, 1),
                                        RandomImage(kElements, 2)};
  const ImageFilterVariables* used[2] = {&*first, &*second};
  for (int i = 0; i < 2; ++i) {
    const std::vector<float> result = Apply(*used[i], images[i]);
    const std::vector<float> expected =
        ReferenceImageFilter(*first, images[i], kSize, kChannels, 3);
    float largest = 0;
    for (float x : expected) largest = std::max(largest, std::abs(x));
    ASSERT_GT(largest, 0.0f);
    for (int64_t j = 0; j < kElements; ++j) {
      ASSERT_NEAR(result[j], expected[j], 1e-5f * largest)
          << "image " << i << " at " << j;
    }
  }
}

TEST(ImageFilterTest, SecondCreateWithoutReuseIsTensorFlowsValueError) {
  std::unique_ptr<LocalVariableClient> client = *LocalVariableClient::Create();
  FreshScopeStore fresh;
  VariableScope scope("filter");
  ASSERT_TRUE(GetImageFilterVariables(*client, SmallFilter()).ok());
  absl::StatusOr<ImageFilterVariables> again =
      GetImageFilterVariables(*client, SmallFilter());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(),
              HasSubstr("Variable filter/conv1/weights already exists"));
}

TEST(ImageFilterTest, ReuseOfNothingIsTensorFlowsValueError) {
  std::unique_ptr<LocalVariableClient> client = *LocalVariableClient::Create();
  FreshScopeStore fresh;
  ReuseVariables();
  absl::StatusOr<ImageFilterVariables> reused =
      GetImageFilterVariables(*client, SmallFilter());
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(reused.status().message(),
              HasSubstr("Variable conv1/weights does not exist"));
  EXPECT_THAT(Names(*client), ElementsAre());
}

// tf.Variable has no sharing: every call makes a new set, uniquified.
TEST(ImageFilterTest, UnsharedVariablesMakeANewSetPerCall) {
  std::unique_ptr<LocalVariableClient> client = *LocalVariableClient::Create();
  FreshScopeStore fresh;
  ASSERT_TRUE(CreateUnsharedImageFilterVariables(*client, SmallFilter()).ok());
  absl::StatusOr<ImageFilterVariables> second =
      CreateUnsharedImageFilterVariables(*client, SmallFilter());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->conv1_weights.info.name, "conv1_weights_1");
  EXPECT_EQ(Names(*client).size(), 8u);
}

}  // namespace
}  // namespace paramserver
