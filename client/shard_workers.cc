#include "client/shard_workers.h"

namespace paramserver {

ShardWorkers::ShardWorkers(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

ShardWorkers::~ShardWorkers() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  mu_.NotifyAll();
  for (std::thread& thread : threads_) thread.join();
}

void ShardWorkers::RunTask(const Task& task) {
  mu_.Unlock();
  (*task.batch->fn)(task.shard);
  mu_.Lock();
  --task.batch->pending;
  mu_.NotifyAll();
}

void ShardWorkers::Run(const std::vector<int>& shards,
                       const std::function<void(int)>& fn) {
  if (shards.empty()) return;
  Batch batch{&fn, static_cast<int>(shards.size()) - 1};
  if (batch.pending > 0) {
    {
      MutexLock lock(&mu_);
      for (size_t i = 1; i < shards.size(); ++i) {
        queue_.push_back(Task{&batch, shards[i]});
      }
    }
    mu_.NotifyAll();
  }
  fn(shards[0]);
  MutexLock lock(&mu_);
  while (batch.pending > 0) {
    if (queue_.empty()) {
      mu_.Await([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return batch.pending == 0 || !queue_.empty();
      });
      continue;
    }
    const Task task = queue_.front();
    queue_.pop_front();
    RunTask(task);
  }
}

void ShardWorkers::Loop() {
  MutexLock lock(&mu_);
  while (true) {
    mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || !queue_.empty();
    });
    if (queue_.empty()) return;  // Stopping, and nothing left to run.
    const Task task = queue_.front();
    queue_.pop_front();
    RunTask(task);
  }
}

}  // namespace paramserver
