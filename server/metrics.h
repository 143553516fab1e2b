#ifndef PARAM_SERVER_SERVER_METRICS_H_
#define PARAM_SERVER_SERVER_METRICS_H_
// Prometheus metrics in plain C++: histograms updated with relaxed atomics
// on the serving path, and a writer of Prometheus' text exposition format
// (version 0.0.4) for scrapes.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace paramserver {

// Buckets for call latencies, in seconds: 100 us to 10 s.
const std::vector<double>& LatencyBucketsSeconds();
// Buckets for fsync durations, in seconds: 50 us to 5 s.
const std::vector<double>& FsyncBucketsSeconds();

// Counts of observations at or below each upper bound, their count and sum.
// Observe is wait-free and thread-safe; a Read during Observe may see the
// bucket, count and sum of one observation at slightly different moments.
class Histogram {
 public:
  // `upper_bounds` ascending; a +Inf bucket is implied.
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // Per bound, then +Inf (= count).
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  const std::vector<double> upper_bounds_;
  // Per bucket (not cumulative); the last is +Inf.
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// The q-quantile (0 < q < 1) estimated from a histogram as Prometheus'
// histogram_quantile does: linear within the bucket that holds it (from 0
// for the first), the highest finite bound when it falls in +Inf; NaN
// without observations.
double HistogramQuantile(const std::vector<double>& upper_bounds,
                         const Histogram::Snapshot& snapshot, double q);

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Builds one scrape's text. Each family is declared once (Family) and its
// samples follow it.
class PrometheusText {
 public:
  // `type`: "counter", "gauge" or "histogram".
  void Family(absl::string_view name, absl::string_view type,
              absl::string_view help);
  void Sample(absl::string_view name, const MetricLabels& labels, double value);
  // name_bucket{...,le="..."}, name_sum and name_count.
  void HistogramSamples(absl::string_view name, const MetricLabels& labels,
                        const Histogram& histogram);
  void HistogramSamples(absl::string_view name, const MetricLabels& labels,
                        const std::vector<double>& upper_bounds,
                        const Histogram::Snapshot& snapshot);

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// The content type of PrometheusText's output.
inline constexpr absl::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_METRICS_H_
