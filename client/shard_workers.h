#ifndef PARAM_SERVER_CLIENT_SHARD_WORKERS_H_
#define PARAM_SERVER_CLIENT_SHARD_WORKERS_H_

// Runs one call per shard concurrently on threads started once, instead of
// threads started for every call. The calling thread takes the first shard
// and, while it waits, any queued call (its own or another caller's), so
// concurrent callers never wait for a free thread while work is queued.

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"

namespace paramserver {

// The shards that have work (a non-empty list), in shard order.
template <typename T>
std::vector<int> NonEmpty(const std::vector<std::vector<T>>& per_shard) {
  std::vector<int> shards;
  for (size_t s = 0; s < per_shard.size(); ++s) {
    if (!per_shard[s].empty()) shards.push_back(static_cast<int>(s));
  }
  return shards;
}

// Shards 0 .. n-1.
inline std::vector<int> AllShards(int n) {
  std::vector<int> shards(n);
  for (int s = 0; s < n; ++s) shards[s] = s;
  return shards;
}

class ShardWorkers {
 public:
  // Starts `threads` threads (none for 0 or less).
  explicit ShardWorkers(int threads);
  // Waits for running calls and stops the threads; no Run may be in progress.
  ~ShardWorkers();
  ShardWorkers(const ShardWorkers&) = delete;
  ShardWorkers& operator=(const ShardWorkers&) = delete;

  // Runs fn(shard) for every shard in `shards`, concurrently when there are
  // several, and returns when all are done. Thread-safe.
  void Run(const std::vector<int>& shards, const std::function<void(int)>& fn)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The calls of one Run; `pending` counts those not finished, under mu_.
  struct Batch {
    const std::function<void(int)>* fn;
    int pending;
  };
  struct Task {
    Batch* batch;
    int shard;
  };

  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `task` without the lock, then counts it done.
  void RunTask(const Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // Constant after construction.
};

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_SHARD_WORKERS_H_
