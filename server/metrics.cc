#include "server/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace paramserver {
namespace {

// Label values escape backslash, double quote and newline; help texts
// backslash and newline.
std::string Escape(absl::string_view text, bool quote) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else if (c == '"' && quote) {
      escaped += "\\\"";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// Go's strconv.FormatFloat(v, 'g', -1, 64) spelling, as Prometheus reads it.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrFormat("%.0f", value);
  }
  // The shortest spelling that reads back as the same double.
  for (int digits = 6; digits < 17; ++digits) {
    std::string spelled = absl::StrFormat("%.*g", digits, value);
    if (std::strtod(spelled.c_str(), nullptr) == value) return spelled;
  }
  return absl::StrFormat("%.17g", value);
}

void AppendLabels(const MetricLabels& labels, std::string& out) {
  if (labels.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    absl::StrAppend(&out, name, "=\"", Escape(value, true), "\"");
  }
  out += '}';
}

}  // namespace

const std::vector<double>& LatencyBucketsSeconds() {
  static const auto* buckets = new std::vector<double>{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *buckets;
}

const std::vector<double>& FsyncBucketsSeconds() {
  static const auto* buckets = new std::vector<double>{
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};
  return *buckets;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double value) {
  const size_t bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
      upper_bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value,
                                     std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.cumulative.reserve(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

double HistogramQuantile(const std::vector<double>& upper_bounds,
                         const Histogram::Snapshot& snapshot, double q) {
  if (snapshot.count == 0 || snapshot.cumulative.empty()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double rank = q * static_cast<double>(snapshot.count);
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    const double below =
        i == 0 ? 0 : static_cast<double>(snapshot.cumulative[i - 1]);
    const double through = static_cast<double>(snapshot.cumulative[i]);
    if (through < rank) continue;
    const double lower = i == 0 ? 0 : upper_bounds[i - 1];
    if (through == below) return upper_bounds[i];
    return lower +
           (upper_bounds[i] - lower) * (rank - below) / (through - below);
  }
  return upper_bounds.empty() ? std::numeric_limits<double>::quiet_NaN()
                              : upper_bounds.back();
}

void PrometheusText::Family(absl::string_view name, absl::string_view type,
                            absl::string_view help) {
  absl::StrAppend(&text_, "# HELP ", name, " ", Escape(help, false), "\n",
                  "# TYPE ", name, " ", type, "\n");
}

void PrometheusText::Sample(absl::string_view name, const MetricLabels& labels,
                            double value) {
  text_.append(name.data(), name.size());
  AppendLabels(labels, text_);
  absl::StrAppend(&text_, " ", FormatValue(value), "\n");
}

void PrometheusText::HistogramSamples(absl::string_view name,
                                      const MetricLabels& labels,
                                      const Histogram& histogram) {
  HistogramSamples(name, labels, histogram.upper_bounds(), histogram.Read());
}

void PrometheusText::HistogramSamples(absl::string_view name,
                                      const MetricLabels& labels,
                                      const std::vector<double>& upper_bounds,
                                      const Histogram::Snapshot& snapshot) {
  const std::string bucket = absl::StrCat(name, "_bucket");
  MetricLabels with_le = labels;
  with_le.emplace_back("le", "");
  for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
    with_le.back().second =
        i < upper_bounds.size() ? FormatValue(upper_bounds[i]) : "+Inf";
    Sample(bucket, with_le, static_cast<double>(snapshot.cumulative[i]));
  }
  Sample(absl::StrCat(name, "_sum"), labels, snapshot.sum);
  Sample(absl::StrCat(name, "_count"), labels,
         static_cast<double>(snapshot.count));
}

}  // namespace paramserver
