#ifndef PARAM_SERVER_SERVER_STREAM_WATCHDOG_H_
#define PARAM_SERVER_SERVER_STREAM_WATCHDOG_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace paramserver {

// Cancels chunk streams that make no progress: a client that stalls after
// its first chunk would otherwise hold the memory its push reserved (or, for
// PullChunks, the snapshot it reads) for as long as it likes. A stream is
// cancelled (TryCancel: the client sees CANCELLED) and logged when
//  - it has not called Touch for `idle_limit`, or
//  - past its first `idle_limit`, it has moved fewer than
//    `min_bytes_per_second` bytes per second of its life since it was added
//    (0: no floor), so that a client sending a byte now and then cannot keep
//    a reservation either.
// An infinite limit turns the watchdog off. Thread-safe; one thread checks a
// few times per limit.
class StreamWatchdog {
 public:
  explicit StreamWatchdog(absl::Duration idle_limit,
                          int64_t min_bytes_per_second = 0);
  ~StreamWatchdog();  // Stops the thread; every stream must be removed.
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;

  // `context` stays valid until Remove, which its reactor's OnDone calls.
  void Add(grpc::CallbackServerContext* context) ABSL_LOCKS_EXCLUDED(mu_);
  // The stream made progress: a chunk of `bytes` arrived or went out.
  void Touch(grpc::CallbackServerContext* context, size_t bytes)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(grpc::CallbackServerContext* context) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Progress {
    absl::Time added;
    absl::Time last;
    size_t bytes = 0;
  };
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  void CancelIdleLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why the stream should be cancelled at `now`; empty when it should not.
  std::string CancelReason(const Progress& progress, absl::Time now) const;

  const absl::Duration idle_limit_;
  const int64_t min_bytes_per_second_;
  Mutex mu_;
  absl::flat_hash_map<grpc::CallbackServerContext*, Progress> streams_
      ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // Not started for an infinite limit.
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_STREAM_WATCHDOG_H_
