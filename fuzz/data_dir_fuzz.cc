#include "fuzz/data_dir_fuzz.h"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_util.h"
#include "server/durability/env.h"
#include "server/logging.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

// Name -> (version, value bytes) of every variable.
std::map<std::string, std::pair<int64_t, std::string>> Contents(
    VariableStore& store) {
  std::map<std::string, std::pair<int64_t, std::string>> contents;
  for (VariableStore::SnapshotEntry& entry : store.SnapshotAll()) {
    const VariableSnapshot& s = entry.snapshot;
    contents[s.info.name] = {s.info.version,
                             std::string(s.value->data(), s.value->size())};
  }
  return contents;
}

}  // namespace

std::string FreshDataDir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TEST_TMPDIR");  // Under bazel test.
    if (base == nullptr && access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    if (base == nullptr) base = std::getenv("TMPDIR");
    if (base == nullptr) base = "/tmp";
    return absl::StrCat(base, "/paramserver_fuzz_", getpid());
  }();
  // Removed when the fuzzer exits (libFuzzer ends a timed run with exit()).
  static const bool cleanup_registered =
      std::atexit([] { RemoveAll(dir).IgnoreError(); }) == 0;
  (void)cleanup_registered;
  Check(RemoveAll(dir).ok());
  Check(CreateDirectories(dir).ok());
  return dir;
}

void StartAndRestart(DurabilityOptions options) {
  // Above kError: start-up logs every salvage, millions of lines here.
  SetLogLevel(static_cast<LogLevel>(static_cast<int>(LogLevel::kError) + 1));
  options.fsync_policy = FsyncPolicy::kCheckpointOnly;  // No flusher thread.
  std::unique_ptr<VariableStore> store;
  absl::StatusOr<std::unique_ptr<Durability>> durability =
      Durability::Open(options, SmallStoreOptions(), &store);
  if (!durability.ok()) {
    Check(absl::IsDataLoss(durability.status()) ||
          absl::IsResourceExhausted(durability.status()));
    return;
  }
  const auto before = Contents(*store);
  Check((*durability)->Checkpoint().ok());
  Check((*durability)->Close().ok());
  store.reset();
  durability->reset();
  options.skip_wal_corruption = false;
  options.ignore_corrupt_checkpoints = false;
  durability = Durability::Open(options, SmallStoreOptions(), &store);
  Check(durability.ok());
  Check(Contents(*store) == before);
}

void FuzzDataDir(const uint8_t* data, size_t size,
                 bool DurabilityOptions::*lenient, WriteDataDirFiles write) {
  if (size < 1) return;
  const absl::string_view files(reinterpret_cast<const char*>(data) + 1,
                                size - 1);
  DurabilityOptions options;
  options.data_dir = FreshDataDir();
  options.*lenient = (data[0] & 1) != 0;
  const bool framed = (data[0] & 2) != 0;
  Check(write(options.data_dir, files, framed).ok());
  StartAndRestart(options);
}

}  // namespace paramserver
