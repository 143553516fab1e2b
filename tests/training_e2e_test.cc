// Two training worker processes against one real server: both finish, the
// loss falls for each, and the server ends up with the student's four
// variables plus the Adam slots its optimizer created.
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

TEST(TrainingE2ETest, TwoWorkersTrainTheImageFilterTogether) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  CommandResult results[2];
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      results[w] = RunCommand({"examples/train_image_filter",
                               "--server=" + (*server)->target(),
                               "--worker=" + std::to_string(w), "--steps=40",
                               "--size=16", "--log_every=10"});
    });
  }
  for (std::thread& worker : workers) worker.join();
  // Both evaluate on the same fixed batch. Whichever started first saw the
  // untrained weights. Each one's loss falls, and the better of the two
  // final losses is less than half the untrained one. (Only the worker that
  // finished last is sure to have seen all 80 updates; the other one may
  // have finished while its peer still trained.)
  double first_initial = 0;
  double best_final = 1e30;
  for (const CommandResult& result : results) {
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const double initial =
        NumberAfter(result.out, "evaluation loss before training ");
    const double final_loss =
        NumberAfter(result.out, "evaluation loss after training ");
    ASSERT_GT(final_loss, 0) << result.out;
    EXPECT_LT(final_loss, initial) << result.out;
    first_initial = std::max(first_initial, initial);
    best_final = std::min(best_final, final_loss);
  }
  ASSERT_GT(first_initial, 0);
  EXPECT_LT(best_final, 0.5 * first_initial)
      << results[0].out << results[1].out;
  auto client = ParameterServerClient::Connect((*server)->target());
  auto listed = (*client)->ListVariables("student");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> names;
  for (const VariableInfo& info : *listed) {
    names.push_back(info.name);
    // Created at 1, then one version per applied gradient: 80 in all.
    if (info.name == "student/conv1/weights") {
      EXPECT_EQ(info.version, 81);
    }
  }
  EXPECT_THAT(names, ::testing::Contains("student/conv2/weights/Adam_1"));
  EXPECT_EQ(names.size(), 12);  // 4 variables and 2 Adam slots each.
}

}  // namespace
}  // namespace paramserver
