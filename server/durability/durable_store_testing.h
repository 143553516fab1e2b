#ifndef PARAM_SERVER_SERVER_DURABILITY_DURABLE_STORE_TESTING_H_
#define PARAM_SERVER_SERVER_DURABILITY_DURABLE_STORE_TESTING_H_

// For tests: an empty directory under TEST_TMPDIR, and a store with
// durability over a directory, as the server has it.

#include <cstdlib>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/durability/durability.h"
#include "server/durability/env.h"

namespace paramserver {

// TEST_TMPDIR/name, removed first.
inline std::string FreshDir(const std::string& name) {
  const std::string dir = JoinPath(std::getenv("TEST_TMPDIR"), name);
  (void)RemoveAll(dir);
  return dir;
}

// A store with durability over `dir`, as the server has it.
struct Server {
  explicit Server(const std::string& dir,
                  FsyncPolicy policy = FsyncPolicy::kAlways) {
    DurabilityOptions options;
    options.data_dir = dir;
    options.fsync_policy = policy;
    auto opened = Durability::Open(options, {}, &store);
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (opened.ok()) durability = *std::move(opened);
  }
  std::unique_ptr<Durability> durability;  // Outlives the store.
  std::unique_ptr<VariableStore> store;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_DURABLE_STORE_TESTING_H_
