#include "examples/click_model.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace paramserver {
namespace {

constexpr double kMinProbability = 1e-7;

// SplitMix64's finalizer: a fixed, well-mixed hash of 64 bits.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double LogLoss(double probability, float label) {
  const double p =
      std::clamp(probability, kMinProbability, 1.0 - kMinProbability);
  return label > 0.5f ? -std::log(p) : -std::log(1.0 - p);
}

}  // namespace

absl::StatusOr<ClickData> ClickData::Create(const ClickModelOptions& options) {
  if (options.fields <= 0 || options.values_per_field <= 0 ||
      options.buckets <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("A click model needs positive fields, values per field "
                     "and buckets; got ",
                     options.fields, ", ", options.values_per_field, " and ",
                     options.buckets));
  }
  if (!(options.hidden_stddev > 0) || !(options.zipf_s >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "A click model needs a positive hidden_stddev and a zipf_s of at "
        "least 0; got ",
        options.hidden_stddev, " and ", options.zipf_s));
  }
  return ClickData(options);
}

ClickData::ClickData(const ClickModelOptions& options) : options_(options) {
  double sum = 0;
  value_cumulative_.reserve(options.values_per_field);
  for (int64_t v = 0; v < options.values_per_field; ++v) {
    sum += 1.0 / std::pow(static_cast<double>(v + 1), options.zipf_s);
    value_cumulative_.push_back(sum);
  }
  std::mt19937_64 random(options.hidden_seed);
  std::normal_distribution<float> normal(0.0f, options.hidden_stddev);
  hidden_weights_.resize(options.fields * options.values_per_field);
  for (float& w : hidden_weights_) w = normal(random);
}

int64_t ClickData::HashedId(int field, int64_t value) const {
  const uint64_t key =
      (static_cast<uint64_t>(field + 1) << 40) ^ static_cast<uint64_t>(value);
  return static_cast<int64_t>(Mix(key) %
                              static_cast<uint64_t>(options_.buckets));
}

ClickBatch ClickData::Sample(int64_t examples, uint64_t seed) const {
  std::mt19937_64 random(Mix(seed));
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  ClickBatch batch;
  batch.ids.reserve(examples * ids_per_example());
  batch.labels.reserve(examples);
  double hidden_loss = 0;
  for (int64_t e = 0; e < examples; ++e) {
    double logit = options_.hidden_bias;
    for (int f = 0; f < options_.fields; ++f) {
      const double u = uniform(random) * value_cumulative_.back();
      const int64_t value =
          std::min<int64_t>(std::lower_bound(value_cumulative_.begin(),
                                             value_cumulative_.end(), u) -
                                value_cumulative_.begin(),
                            options_.values_per_field - 1);
      batch.ids.push_back(HashedId(f, value));
      logit += hidden_weights_[f * options_.values_per_field + value];
    }
    batch.ids.push_back(HashedId(-1, 0));
    const double p = Sigmoid(logit);
    const float label = uniform(random) < p ? 1.0f : 0.0f;
    batch.labels.push_back(label);
    hidden_loss += LogLoss(p, label);
  }
  batch.hidden_log_loss = examples > 0 ? hidden_loss / examples : 0;
  return batch;
}

absl::StatusOr<double> LogLossAndGradient(const ClickBatch& batch,
                                          int ids_per_example,
                                          absl::Span<const float> weights,
                                          std::vector<float>* gradient) {
  const size_t examples = batch.labels.size();
  if (ids_per_example <= 0 || batch.ids.size() != examples * ids_per_example ||
      weights.size() != batch.ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "A click batch of ", examples, " examples of ", ids_per_example,
        " ids needs as many ids and weights; got ", batch.ids.size(),
        " ids and ", weights.size(), " weights"));
  }
  gradient->assign(weights.size(), 0.0f);
  if (examples == 0) return 0.0;
  double loss = 0;
  for (size_t e = 0; e < examples; ++e) {
    const size_t first = e * ids_per_example;
    double logit = 0;
    for (int k = 0; k < ids_per_example; ++k) logit += weights[first + k];
    const double p = Sigmoid(logit);
    loss += LogLoss(p, batch.labels[e]);
    // d(mean loss)/d(logit) = (p - label) / examples, the same for every
    // weight of the example.
    const float g = static_cast<float>((p - batch.labels[e]) / examples);
    for (int k = 0; k < ids_per_example; ++k) (*gradient)[first + k] = g;
  }
  return loss / examples;
}

double BaseRateLogLoss(const ClickBatch& batch) {
  if (batch.labels.empty()) return 0;
  double clicks = 0;
  for (float label : batch.labels) clicks += label;
  const double rate = clicks / batch.labels.size();
  double loss = 0;
  for (float label : batch.labels) loss += LogLoss(rate, label);
  return loss / batch.labels.size();
}

}  // namespace paramserver
