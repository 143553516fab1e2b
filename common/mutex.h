#ifndef PARAM_SERVER_COMMON_MUTEX_H_
#define PARAM_SERVER_COMMON_MUTEX_H_

// A mutex and condition variable with Clang's thread-safety annotations,
// over std::mutex.
//
// Why not absl::Mutex: Debian ships abseil prebuilt without ThreadSanitizer
// instrumentation, so absl::Mutex's lock and unlock are invisible to TSan and
// every access it protects is reported as a race. std::mutex goes through
// pthreads, which TSan intercepts, so `--config=tsan` checks our locking for
// real. The annotations keep `-Wthread-safety` checking what they always did.

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace paramserver {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

  // Tells the thread-safety analysis that the caller holds this mutex, where
  // it was locked in a way the analysis cannot follow (one of a set of
  // mutexes locked in order, e.g. server/dynamic_table.cc's stripes).
  // Checks nothing at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

  // Blocks until `ready()` holds; the lock is held when it is evaluated and
  // on return. `ready` must only read state guarded by this mutex.
  template <typename Predicate>
  void Await(Predicate ready) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    changed_.wait(lock, ready);
    lock.release();
  }

  // Like Await, but gives up after `timeout`; returns whether `ready()` held.
  template <typename Predicate, typename Rep, typename Period>
  bool AwaitFor(Predicate ready, std::chrono::duration<Rep, Period> timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    const bool result = changed_.wait_for(lock, timeout, ready);
    lock.release();
    return result;
  }

  // Wakes every Await whose predicate may have become true. Call with or
  // without the lock held.
  void NotifyAll() { changed_.notify_all(); }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
};

// Holds `mu` for its lifetime.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }

  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_MUTEX_H_
