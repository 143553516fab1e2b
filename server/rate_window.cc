#include "server/rate_window.h"

#include <utility>

namespace paramserver {

void RateWindow::Add(absl::Time at, std::vector<uint64_t> totals) {
  MutexLock lock(&mu_);
  readings_.push_back({at, std::move(totals)});
  // Keep the newest reading at least `span_` old, so that the window
  // always covers the whole span once it has been running that long.
  while (readings_.size() > 2 && at - readings_[1].at >= span_) {
    readings_.pop_front();
  }
}

std::optional<RateWindow::Rates> RateWindow::Read() const {
  MutexLock lock(&mu_);
  if (readings_.size() < 2) return std::nullopt;
  const Reading& oldest = readings_.front();
  const Reading& newest = readings_.back();
  const double seconds = absl::ToDoubleSeconds(newest.at - oldest.at);
  if (seconds <= 0 || oldest.totals.size() != newest.totals.size()) {
    return std::nullopt;
  }
  Rates rates;
  rates.seconds = seconds;
  rates.per_second.reserve(newest.totals.size());
  for (size_t i = 0; i < newest.totals.size(); ++i) {
    // Counters only grow; a smaller value (never expected) reads as 0.
    const uint64_t grew = newest.totals[i] >= oldest.totals[i]
                              ? newest.totals[i] - oldest.totals[i]
                              : 0;
    rates.per_second.push_back(static_cast<double>(grew) / seconds);
  }
  return rates;
}

}  // namespace paramserver
