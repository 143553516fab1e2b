// Two training worker processes against one real server: both finish, the
// loss falls for each, and the server ends up with the student's four
// variables plus the Adam slots its optimizer created.
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

// The losses a worker printed, in order.
std::vector<double> Losses(const std::string& out) {
  std::vector<double> losses;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    const size_t at = line.find("loss ");
    if (at == absl::string_view::npos) continue;
    absl::string_view rest = line.substr(at + 5);
    double loss;
    if (absl::SimpleAtod(rest.substr(0, rest.find(' ')), &loss)) losses.push_back(loss);
  }
  return losses;
}

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
  for (const CommandResult& result : results) {
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::vector<double> losses = Losses(result.out);
    ASSERT_EQ(losses.size(), 4) << result.out;
    EXPECT_LT(losses.back(), 0.5 * losses.front()) << result.out;
  }
  auto client = ParameterServerClient::Connect((*server)->target());
  auto listed = (*client)->ListVariables("student");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> names;
  for (const VariableInfo& info : *listed) {
    names.push_back(info.name);
    // Created at 1, then one version per applied gradient: 80 in all.
    if (info.name == "student/conv1/weights") EXPECT_EQ(info.version, 81);
  }
  EXPECT_THAT(names, ::testing::Contains("student/conv2/weights/Adam_1"));
  EXPECT_EQ(names.size(), 12);  // 4 variables and 2 Adam slots each.
}

}  // namespace
}  // namespace paramserver
