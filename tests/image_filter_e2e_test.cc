// The seed's image filter against the real server: two workers filter two
// images with one shared set of weights, and their results equal computing
// both images locally, with a plain reference convolution, from the weights
// the server holds.
#include <cmath>
#include <thread>
#include <vector>

#include "client/client.h"
#include "client/variable_scope.h"
#include "examples/image_filter.h"
#include "examples/image_filter_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

constexpr int kSize = 20;
constexpr int64_t kElements = int64_t{kSize} * kSize * 32;

TEST(ImageFilterE2ETest, TwoImagesOneSetOfWeights) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::vector<float> images[2] = {RandomImage(kElements, 1),
                                        RandomImage(kElements, 2)};
  std::vector<float> results[2] = {std::vector<float>(kElements),
                                   std::vector<float>(kElements)};
  ImageFilterOptions options;
  options.weights_stddev = 0.05;
  // Worker 0 creates the variables; worker 1 then reuses them.
  for (int worker = 0; worker < 2; ++worker) {
    std::thread([&, worker] {
      auto client = ParameterServerClient::Connect((*server)->target());
      ASSERT_TRUE(client.ok());
      // tf.get_variable_scope().reuse_variables() before the second call.
      if (worker == 1) ReuseVariables();
      auto variables = GetImageFilterVariables(**client, options);
      ASSERT_TRUE(variables.ok()) << variables.status();
      EXPECT_EQ(variables->conv1_weights.created, worker == 0);
      auto filter =
          ImageFilter::Create({.batch = 1, .height = kSize, .width = kSize});
      ASSERT_TRUE(filter.ok()) << filter.status();
      ASSERT_TRUE((*filter)
                      ->Apply(*variables, images[worker],
                              absl::MakeSpan(results[worker]))
                      .ok());
    }).join();
  }

  auto client = ParameterServerClient::Connect((*server)->target());
  auto listed = (*client)->ListVariables("");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> names;
  for (const VariableInfo& info : *listed) names.push_back(info.name);
  EXPECT_THAT(names, ::testing::ElementsAre("conv1/biases", "conv1/weights",
                                            "conv2/biases", "conv2/weights"));

  FreshScopeStore fresh;
  ReuseVariables();
  auto held = GetImageFilterVariables(**client, options);
  ASSERT_TRUE(held.ok()) << held.status();
  for (int i = 0; i < 2; ++i) {
    const std::vector<float> expected =
        ReferenceImageFilter(*held, images[i], kSize, 32, 5);
    float largest = 0;
    for (float x : expected) largest = std::max(largest, std::abs(x));
    ASSERT_GT(largest, 0.0f);
    for (int64_t j = 0; j < kElements; ++j) {
      ASSERT_NEAR(results[i][j], expected[j], 1e-5f * largest)
          << "image " << i << " at " << j;
    }
  }
}

}  // namespace
}  // namespace paramserver
