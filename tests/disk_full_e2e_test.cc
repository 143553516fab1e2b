// A full disk under a durable server: writes fail with RESOURCE_EXHAUSTED and
// are not applied, nothing acknowledged is lost, the server keeps serving,
// and it accepts writes again once space returns. The data directory is a
// small tmpfs mounted for the test (needs root, as CI has; skipped otherwise).
#include <signal.h>
#include <sys/mount.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/durability/env.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kElements = 16 << 10;  // 64 KiB of float32 per variable.

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_point_ = std::string(std::getenv("TEST_TMPDIR")) + "/small_disk";
    ASSERT_TRUE(CreateDirectories(mount_point_).ok());
    if (mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=3m") != 0) {
      GTEST_SKIP() << "Cannot mount a tmpfs here (" << std::strerror(errno)
                   << "); the disk-full test needs root.";
    }
    mounted_ = true;
  }
  void TearDown() override {
    server_.reset();
    if (mounted_) umount2(mount_point_.c_str(), MNT_DETACH);
  }

  void StartServer() {
    auto server = ServerProcess::Start(
        {"--data_dir=" + mount_point_ + "/data", "--initialize_data_dir",
         "--wal_fsync=always", "--checkpoint_interval_seconds=0"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto client = ParameterServerClient::Connect(server_->target());
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
  }

  absl::Status Create(const std::string& name, float value) {
    VariableRequest request;
    request.name = name;
    request.shape = TensorShape{kElements};
    request.initializer.kind = InitializerKind::kConstant;
    request.initializer.values = {value};
    return client_->GetVariable(request).status();
  }

  absl::Status Assign(const std::string& name, float value) {
    std::vector<float> values(kElements, value);
    PushSpec push;
    const std::string bytes(reinterpret_cast<const char*>(values.data()),
                            kElements * 4);
    push.updates = {{name, UpdateKind::kAssign, bytes, std::nullopt}};
    return client_->Push(push).status();
  }

  float First(const std::string& name) {
    auto read = client_->ReadVariable(name);
    EXPECT_TRUE(read.ok()) << name << ": " << read.status();
    float value = -1;
    if (read.ok()) std::memcpy(&value, read->value.data(), sizeof(value));
    return value;
  }

  std::string mount_point_;
  bool mounted_ = false;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<ParameterServerClient> client_;
};

TEST_F(DiskFullTest, WritesFailCleanlyAndRecoverWhenSpaceReturns) {
  const std::string ballast = mount_point_ + "/ballast";
  {
    std::ofstream out(ballast, std::ios::binary);
    out << std::string(1 << 20, 'x');
  }
  StartServer();
  std::vector<std::string> acknowledged;
  absl::Status full;
  for (int i = 0; i < 100 && full.ok(); ++i) {
    const std::string name = "v" + std::to_string(i);
    full = Create(name, static_cast<float>(i));
    if (full.ok()) acknowledged.push_back(name);
  }
  ASSERT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_THAT(full.message(), HasSubstr("No space left"));
  ASSERT_GE(acknowledged.size(), 5);

  // An update that cannot be logged is refused and not applied.
  const absl::Status refused = Assign("v0", 99);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_EQ(First("v0"), 0.0f);
  // Reads still work.
  auto listed = client_->ListVariables("");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), acknowledged.size());

  // Space returns: writes go through again.
  ASSERT_EQ(std::remove(ballast.c_str()), 0);
  ASSERT_TRUE(Assign("v0", 42).ok());
  ASSERT_TRUE(Create("after", 7).ok());
  acknowledged.push_back("after");

  // And all of it survives a crash.
  server_->StopWith(SIGKILL);
  StartServer();
  EXPECT_EQ(First("v0"), 42.0f);
  EXPECT_EQ(First("after"), 7.0f);
  for (size_t i = 1; i + 1 < acknowledged.size(); ++i) {
    EXPECT_EQ(First(acknowledged[i]), static_cast<float>(i)) << acknowledged[i];
  }
  EXPECT_EQ(client_->ListVariables("")->size(), acknowledged.size());
}

}  // namespace
}  // namespace paramserver
