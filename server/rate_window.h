#ifndef PARAM_SERVER_SERVER_RATE_WINDOW_H_
#define PARAM_SERVER_SERVER_RATE_WINDOW_H_
// Per-second rates of a set of counters over a sliding window: readings of
// the counters' totals are added as time passes (ps_server adds one a
// second), and a rate is the difference between the newest reading and the
// oldest one still inside the window, over the time between them. So
// `psctl stats` and the operator page show live rates from a single
// request, as Prometheus' rate() would from its scrapes. Thread-safe.

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace paramserver {

class RateWindow {
 public:
  explicit RateWindow(absl::Duration span) : span_(span) {}

  // `totals`: every counter's value at `at`, always in the same order;
  // readings come in time order.
  void Add(absl::Time at, std::vector<uint64_t> totals)
      ABSL_LOCKS_EXCLUDED(mu_);

  struct Rates {
    double seconds = 0;              // Between the two readings used.
    std::vector<double> per_second;  // One per counter.
  };
  // Null until two readings are in the window.
  std::optional<Rates> Read() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Reading {
    absl::Time at;
    std::vector<uint64_t> totals;
  };

  const absl::Duration span_;
  mutable Mutex mu_;
  std::deque<Reading> readings_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_RATE_WINDOW_H_
