// A push retried after its reply was lost applies once: the real ps_server,
// logging with --wal_fsync=always, applies and logs a push, is killed with
// SIGKILL before the client hears back (as far as the client knows), and
// restarts on the same data directory; the client repeats the push with the
// same push id and gets the first answer, while the variable moved once.
// Then again across a clean shutdown, whose checkpoint drops the log.

#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::Each;
using ::testing::HasSubstr;

// Large enough that its push streams (PushChunks) instead of a unary Push.
constexpr int64_t kBigElements = ParameterServerClient::kInlineBytes / 4 + 1;

std::vector<std::string> ServerFlags(const std::string& dir) {
  return {"--data_dir=" + dir, "--initialize_data_dir", "--wal_fsync=always"};
}

std::string Floats(int64_t n, float x) {
  std::vector<float> values(n, x);
  return std::string(reinterpret_cast<const char*>(values.data()), n * 4);
}

std::vector<float> Values(ParameterServerClient& client,
                          const std::string& name) {
  auto read = client.ReadVariable(name);
  EXPECT_TRUE(read.ok()) << read.status();
  if (!read.ok()) return {};
  std::vector<float> values(read->value.size() / 4);
  std::memcpy(values.data(), read->value.data(), read->value.size());
  return values;
}

int64_t Version(ParameterServerClient& client, const std::string& name) {
  auto read = client.ReadVariable(name);
  return read.ok() ? read->info.version : -1;
}

void CreateZeros(ParameterServerClient& client, const std::string& name,
                 int64_t n) {
  VariableRequest request;
  request.name = name;
  request.shape = TensorShape{n};
  request.initializer.kind = InitializerKind::kZeros;
  ASSERT_TRUE(client.GetVariable(request).ok());
}

TEST(PushIdE2eTest, RetryAfterKillAppliesOnce) {
  const std::string dir =
      std::string(std::getenv("TEST_TMPDIR")) + "/push_id_data";
  const std::string small = Floats(4, 1.5f), big = Floats(kBigElements, 2.f);
  PushSpec unary;
  unary.push_id = "worker-0-run-1-step-7";
  unary.updates = {{"e2e/v", UpdateKind::kAssignAdd, small, std::nullopt}};
  PushSpec streamed;
  streamed.push_id = "worker-0-run-1-step-8";
  streamed.updates = {{"e2e/big", UpdateKind::kAssignAdd, big, std::nullopt}};

  auto server = ServerProcess::Start(ServerFlags(dir));
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = ParameterServerClient::Connect((*server)->target());
  ASSERT_TRUE(client.ok()) << client.status();
  CreateZeros(**client, "e2e/v", 4);
  CreateZeros(**client, "e2e/big", kBigElements);
  auto first = (*client)->Push(unary);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ((*first)[0].version, 2);
  auto first_big = (*client)->Push(streamed);
  ASSERT_TRUE(first_big.ok()) << first_big.status();
  ASSERT_EQ((*first_big)[0].version, 2);
  // An id longer than 64 bytes is refused before anything is applied.
  PushSpec too_long = unary;
  too_long.push_id = std::string(65, 'x');
  absl::Status refused = (*client)->Push(too_long).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("push_id has 65 bytes"));

  (*server)->StopWith(SIGKILL);
  for (int restart = 0; restart < 2; ++restart) {
    server = ServerProcess::Start(ServerFlags(dir));
    ASSERT_TRUE(server.ok()) << server.status();
    client = ParameterServerClient::Connect((*server)->target());
    ASSERT_TRUE(client.ok()) << client.status();
    auto repeat = (*client)->Push(unary);
    ASSERT_TRUE(repeat.ok()) << repeat.status();
    EXPECT_EQ((*repeat)[0].name, "e2e/v");
    EXPECT_EQ((*repeat)[0].version, 2);
    auto repeat_big = (*client)->Push(streamed);
    ASSERT_TRUE(repeat_big.ok()) << repeat_big.status();
    EXPECT_EQ((*repeat_big)[0].version, 2);
    EXPECT_EQ(Version(**client, "e2e/v"), 2);
    EXPECT_EQ(Version(**client, "e2e/big"), 2);
    EXPECT_THAT(Values(**client, "e2e/v"), Each(1.5f));
    EXPECT_THAT(Values(**client, "e2e/big"), Each(2.f));
    // The second time round: after a clean shutdown, whose checkpoint
    // lets the log with the pushes go.
    if (restart == 0) {
      client->reset();  // No session for the shutdown to wait out.
      const int status = (*server)->StopWith(SIGTERM);
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << (*server)->Log();
    }
  }
  // A new id applies.
  PushSpec next = unary;
  next.push_id = "worker-0-run-1-step-9";
  auto applied = (*client)->Push(next);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ((*applied)[0].version, 3);
  EXPECT_THAT(Values(**client, "e2e/v"), Each(3.f));
  // Without an id the client makes a fresh one each call: both apply.
  PushSpec anonymous = unary;
  anonymous.push_id.clear();
  ASSERT_TRUE((*client)->Push(anonymous).ok());
  ASSERT_TRUE((*client)->Push(anonymous).ok());
  EXPECT_EQ(Version(**client, "e2e/v"), 5);
}

}  // namespace
}  // namespace paramserver
