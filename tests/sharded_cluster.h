#ifndef PARAM_SERVER_TESTS_SHARDED_CLUSTER_H_
#define PARAM_SERVER_TESTS_SHARDED_CLUSTER_H_

// Three real ps_server processes on loopback as the shards of job "e2e",
// each with its own data directory (--wal_fsync=always), a ShardedClient
// over them and a direct client to each.

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/sharded_client.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {

inline constexpr int kShards = 3;
inline constexpr char kJob[] = "e2e";

// Shard `index` of the job on `port` ("0": any), with `dir` as its data.
inline std::vector<std::string> ShardFlags(const std::string& dir,
                                           const std::string& port, int index,
                                           bool initialize) {
  std::vector<std::string> flags = {"--port=" + port,
                                    "--data_dir=" + dir,
                                    "--wal_fsync=always",
                                    absl::StrCat("--job=", kJob),
                                    absl::StrCat("--shard_index=", index),
                                    absl::StrCat("--shard_count=", kShards)};
  if (initialize) flags.push_back("--initialize_data_dir");
  return flags;
}

inline ClientOptions JobOptions() {
  ClientOptions options;
  options.job = kJob;
  return options;
}

class ShardedE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int s = 0; s < kShards; ++s) {
      const char* tmp = std::getenv("TEST_TMPDIR");
      dirs_.push_back(absl::StrCat(
          tmp != nullptr ? tmp : "/tmp", "/",
          ::testing::UnitTest::GetInstance()->current_test_info()->name(),
          "_shard", s));
      auto server = ServerProcess::Start(ShardFlags(dirs_[s], "0", s, true));
      ASSERT_TRUE(server.ok()) << server.status();
      targets_.push_back((*server)->target());
      servers_.push_back(*std::move(server));
      auto direct = ParameterServerClient::Connect(targets_[s]);
      ASSERT_TRUE(direct.ok());
      direct_.push_back(*std::move(direct));
    }
    auto client = ShardedClient::Connect(targets_, JobOptions());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    const auto cluster = client_->CheckCluster();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
  }

  // Restarts shard `s` on its port from its data directory (which must hold
  // its data unless `initialize`).
  void Restart(int s, bool initialize = false) {
    const std::string port = Port(s);
    auto server =
        ServerProcess::Start(ShardFlags(dirs_[s], port, s, initialize));
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_EQ((*server)->target(), targets_[s]);
    servers_[s] = *std::move(server);
  }

  std::string Port(int s) const {
    return targets_[s].substr(targets_[s].rfind(':') + 1);
  }

  std::vector<std::string> dirs_, targets_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::vector<std::unique_ptr<ParameterServerClient>> direct_;
  std::unique_ptr<ShardedClient> client_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_TESTS_SHARDED_CLUSTER_H_
