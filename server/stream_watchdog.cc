#include "server/stream_watchdog.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/logging.h"

namespace paramserver {

StreamWatchdog::StreamWatchdog(absl::Duration idle_limit,
                               int64_t min_bytes_per_second)
    : idle_limit_(idle_limit), min_bytes_per_second_(min_bytes_per_second) {
  if (idle_limit_ != absl::InfiniteDuration())
    thread_ = std::thread([this] { Run(); });
}

StreamWatchdog::~StreamWatchdog() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  mu_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void StreamWatchdog::Add(grpc::CallbackServerContext* context) {
  const absl::Time now = absl::Now();
  MutexLock lock(&mu_);
  streams_[context] = Progress{now, now, 0};
}

void StreamWatchdog::Touch(grpc::CallbackServerContext* context, size_t bytes) {
  const absl::Time now = absl::Now();
  MutexLock lock(&mu_);
  auto it = streams_.find(context);
  if (it == streams_.end()) return;
  it->second.last = now;
  it->second.bytes += bytes;
}

void StreamWatchdog::Remove(grpc::CallbackServerContext* context) {
  MutexLock lock(&mu_);
  streams_.erase(context);
}

void StreamWatchdog::Run() {
  // A stream is cancelled between 1 and 1.25 idle limits after its last
  // progress (checks at least once a second).
  const absl::Duration period =
      std::clamp(idle_limit_ / 4, absl::Milliseconds(10), absl::Seconds(1));
  MutexLock lock(&mu_);
  while (!mu_.AwaitFor([this]()
                           ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_; },
                       absl::ToChronoNanoseconds(period))) {
    CancelIdleLocked(absl::Now());
  }
}

std::string StreamWatchdog::CancelReason(const Progress& progress,
                                         absl::Time now) const {
  if (now - progress.last >= idle_limit_) {
    return absl::StrCat("no progress for ",
                        absl::FormatDuration(now - progress.last), " (limit ",
                        absl::FormatDuration(idle_limit_), ")");
  }
  if (min_bytes_per_second_ <= 0) return "";
  // Time the bytes moved so far pay for at the floor rate, after the first
  // idle limit, which every stream gets.
  const absl::Duration paid_for =
      idle_limit_ + absl::Seconds(static_cast<double>(progress.bytes) /
                                  static_cast<double>(min_bytes_per_second_));
  if (now - progress.added < paid_for) return "";
  return absl::StrCat("moved ", progress.bytes, " bytes in ",
                      absl::FormatDuration(now - progress.added),
                      ", below the floor of ", min_bytes_per_second_,
                      " bytes per second after the first ",
                      absl::FormatDuration(idle_limit_));
}

void StreamWatchdog::CancelIdleLocked(absl::Time now) {
  // Under the lock, so no reactor can finish and free its context meanwhile
  // (as in SessionRegistry::CancelAll); each stream is cancelled once.
  for (auto it = streams_.begin(); it != streams_.end();) {
    const std::string reason = CancelReason(it->second, now);
    if (reason.empty()) {
      ++it;
      continue;
    }
    Log(LogLevel::kWarning, "Cancelled a chunk stream from ", it->first->peer(),
        ": ", reason, ".");
    it->first->TryCancel();
    streams_.erase(it++);
  }
}

}  // namespace paramserver
