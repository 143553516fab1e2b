#ifndef PARAM_SERVER_EXAMPLES_CLICK_MODEL_H_
#define PARAM_SERVER_EXAMPLES_CLICK_MODEL_H_

// A click model over hashed categorical features: what a worker computes
// between an embedding lookup and a sparse push. Examples come from a hidden
// logistic model, so the best log loss any model can reach is known.
//
// Each example has `fields` categorical features (field f takes one of
// `values_per_field` values, Zipf-distributed: a few values are common, most
// rare, as ad ids and user ids are) plus a constant feature that plays the
// bias. Feature (f, v) becomes the id HashedId(f, v) % buckets of a
// [buckets, 1] weight table (the hashing trick: colliding features share a
// weight). The model is logistic regression: the click probability is
// sigmoid(sum of the example's weights).

#include <cstdint>
#include <random>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace paramserver {

struct ClickModelOptions {
  int fields = 8;
  int64_t values_per_field = 1000;
  int64_t buckets = 1 << 16;   // Rows of the weight table.
  double zipf_s = 1.0;         // Of each field's values.
  double hidden_stddev = 0.6;  // Of the hidden model's weights.
  double hidden_bias = -1.0;   // The hidden model's bias (a click rate ~30%).
  uint64_t hidden_seed = 1;
};

// A batch of examples: ids[e * ids_per_example() + k] is example e's k-th
// feature id (the last one the bias's), labels[e] is 1 for a click.
struct ClickBatch {
  std::vector<int64_t> ids;
  std::vector<float> labels;
  // Log loss of the hidden model's own probabilities on these labels: the
  // least any model can expect.
  double hidden_log_loss = 0;
};

// Thread-compatible; Sample is const and deterministic per seed, so every
// worker and every run draws the same batch for the same seed.
class ClickData {
 public:
  // INVALID_ARGUMENT unless fields, values_per_field, buckets and
  // hidden_stddev are positive and zipf_s is at least 0.
  static absl::StatusOr<ClickData> Create(const ClickModelOptions& options);

  int ids_per_example() const { return options_.fields + 1; }
  const ClickModelOptions& options() const { return options_; }

  ClickBatch Sample(int64_t examples, uint64_t seed) const;

  // The table row of feature (field, value); field -1 is the bias.
  int64_t HashedId(int field, int64_t value) const;

 private:
  explicit ClickData(const ClickModelOptions& options);

  ClickModelOptions options_;
  std::vector<double> value_cumulative_;  // Zipf over one field's values.
  std::vector<float> hidden_weights_;     // fields * values_per_field.
};

// Logistic regression's mean log loss over `batch` with `weights` (one per
// id of batch.ids, as an embedding lookup of them returns), and its gradient
// with respect to each looked-up weight: gradient[k] for batch.ids[k]
// (repeated ids get one entry each; the sparse push sums them). Probabilities
// are clipped to [1e-7, 1 - 1e-7] for the loss. INVALID_ARGUMENT when sizes
// disagree.
absl::StatusOr<double> LogLossAndGradient(const ClickBatch& batch,
                                          int ids_per_example,
                                          absl::Span<const float> weights,
                                          std::vector<float>* gradient);

// The log loss of always predicting the batch's own click rate: what a model
// that learned nothing but the bias reaches.
double BaseRateLogLoss(const ClickBatch& batch);

}  // namespace paramserver

#endif  // PARAM_SERVER_EXAMPLES_CLICK_MODEL_H_
