// Damaged files under a real server's data directory: a torn log tail is
// trimmed, corruption in the middle of the log stops start-up with a precise
// message unless the operator allows skipping it, and a damaged checkpoint
// is skipped for the one before.
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/durability/checkpoint.h"
#include "server/durability/env.h"
#include "server/durability/log_reader.h"
#include "server/durability/log_writer.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

class CorruptFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    (void)RemoveAll(dir_);
  }

  absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = {
        "--data_dir=" + dir_, "--initialize_data_dir", "--wal_fsync=always",
        "--checkpoint_interval_seconds=0"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return ServerProcess::Start(flags);
  }

  // Creates scalars name -> value on a fresh server, then kills it.
  void Populate(const std::vector<std::pair<std::string, float>>& variables,
                bool checkpoint_first = false) {
    auto server = Start();
    ASSERT_TRUE(server.ok()) << server.status();
    auto client = *ParameterServerClient::Connect((*server)->target());
    for (const auto& [name, value] : variables) {
      VariableRequest request;
      request.name = name;
      request.shape = TensorShape{};
      request.initializer.kind = InitializerKind::kConstant;
      request.initializer.values = {value};
      ASSERT_TRUE(client->GetVariable(request).ok());
      if (checkpoint_first) {
        ASSERT_EQ(RunCommand({PsctlBinary(), "--server=" + (*server)->target(),
                              "save"})
                      .exit_code,
                  0);
      }
    }
    (*server)->StopWith(SIGKILL);
  }

  std::string NewestSegment() {
    auto files = ListDirectory(dir_ + "/wal");
    EXPECT_TRUE(files.ok() && !files->empty());
    return dir_ + "/wal/" + files->back();
  }

  std::string dir_;
};

size_t FileSize(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  return static_cast<size_t>(in.tellg());
}

void FlipByte(const std::string& path, size_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(offset);
  char byte = static_cast<char>(file.get());
  file.seekp(offset);
  file.put(static_cast<char>(byte ^ 0x5a));
}

TEST_F(CorruptFilesTest, TornLogTailIsTrimmedAndEverythingBeforeIsKept) {
  Populate({{"a", 1}, {"b", 2}});
  {
    // Half of a record header, as a crash in the middle of a write leaves.
    std::ofstream out(NewestSegment(), std::ios::binary | std::ios::app);
    out.write("\x40\x00\x00\x00\x12", 5);
  }
  auto server = Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = *ParameterServerClient::Connect((*server)->target());
  EXPECT_EQ(client->ListVariables("")->size(), 2);
  EXPECT_THAT((*server)->Log(), HasSubstr("trimmed"));
}

TEST_F(CorruptFilesTest, CorruptionInTheMiddleStopsStartUpUnlessSkipped) {
  Populate({{"a", 1}, {"b", 2}, {"c", 3}});
  const std::string segment = NewestSegment();
  // Damage a byte inside the first variable's record; later records stay good.
  FlipByte(segment, FileSize(segment) / 3);
  auto refused = Start();
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("corrupt record at byte"));
  EXPECT_THAT(refused.status().message(), HasSubstr("DATA_LOSS"));

  auto server = Start({"--skip_wal_corruption"});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT((*server)->Log(), HasSubstr("corruption skipped"));
  auto client = *ParameterServerClient::Connect((*server)->target());
  // Only what precedes the damage is loaded; nothing damaged is.
  EXPECT_LT(client->ListVariables("")->size(), 3);
}

TEST_F(CorruptFilesTest, DamagedNewestCheckpointFallsBackToThePreviousOne) {
  Populate({{"a", 1}, {"b", 2}}, /*checkpoint_first=*/true);
  auto checkpoints = ListCheckpoints(dir_ + "/checkpoints");
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_EQ(checkpoints->size(), 2);
  FlipByte(
      dir_ + "/checkpoints/" + CheckpointDirName(checkpoints->back()) + "/data",
      0);
  auto server = Start();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT((*server)->Log(), HasSubstr("Skipped damaged checkpoint"));
  auto client = *ParameterServerClient::Connect((*server)->target());
  // The older checkpoint has a; the log after it still has b.
  EXPECT_EQ(client->ListVariables("")->size(), 2);
}

}  // namespace
}  // namespace paramserver
