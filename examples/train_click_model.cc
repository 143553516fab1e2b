// Trains a click model (logistic regression over hashed categorical
// features, examples/click_model.h) with an embedding table on the
// parameter servers: each step a worker draws a batch, looks up the weights
// of its ids (tf.nn.embedding_lookup), computes the log loss's gradient and
// pushes it as sparse rows (IndexedSlices) that the servers apply with the
// optimizer, touching only those rows. With --servers the table is
// partitioned over the shards, one part each (mod strategy). --workers
// threads train at once, each with its own connection, as separate worker
// processes would.
//
// Prints the log loss of a held-out batch before and after training, beside
// two yardsticks: predicting the base click rate (a model that learned
// nothing but the bias) and the hidden model that drew the labels (the best
// any model can expect). With --max_log_loss, exits 1 when the loss after
// training is above it.
//
//   train_click_model --server=HOST:PORT --workers=2 --steps=400
//   train_click_model --servers=HOST:PORT,HOST:PORT,HOST:PORT --workers=4

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/sharded_client.h"
#include "examples/click_model.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2222", "Parameter server HOST:PORT.");
ABSL_FLAG(std::string, servers, "",
          "Sharded parameter servers HOST:PORT,... in shard order (overrides "
          "--server); the table gets one part per shard.");
ABSL_FLAG(std::string, job, "", "The job the servers must belong to.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificate(s) the servers' certificates must chain to; "
          "turns on TLS.");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate, for mutual TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, token, "",
          "Bearer token for servers started with --tokens_file (or PS_TOKEN).");
ABSL_FLAG(std::string, table, "click/weights", "The weight table's name.");
ABSL_FLAG(int, workers, 2, "Worker threads, each with its own connection.");
ABSL_FLAG(int, steps, 400, "Steps per worker.");
ABSL_FLAG(int, batch, 256, "Examples per step.");
ABSL_FLAG(int64_t, buckets, 1 << 16, "Rows of the hashed weight table.");
ABSL_FLAG(std::string, optimizer, "adagrad",
          "sgd, adagrad, ftrl or lazy_adam.");
ABSL_FLAG(double, learning_rate, 1.0,
          "Learning rate (1.0 suits adagrad and ftrl here; lazy_adam needs "
          "about 0.01).");
ABSL_FLAG(int, eval_examples, 20000, "Examples in the held-out batch.");
ABSL_FLAG(double, max_log_loss, 0,
          "Fail (exit 1) when the held-out log loss after training is above "
          "this; 0: no check.");
ABSL_FLAG(int, log_every, 100, "Print each worker's mean loss this often.");

namespace paramserver {
namespace {

constexpr uint64_t kEvaluationSeed = 0xE7A1;

absl::StatusOr<OptimizerSpec> OptimizerFromFlags() {
  OptimizerSpec spec;
  const std::string name = absl::GetFlag(FLAGS_optimizer);
  if (name == "sgd") {
    spec.kind = OptimizerKind::kSgd;
  } else if (name == "adagrad") {
    spec.kind = OptimizerKind::kAdagrad;
  } else if (name == "ftrl") {
    spec.kind = OptimizerKind::kFtrl;
  } else if (name == "lazy_adam") {
    spec.kind = OptimizerKind::kLazyAdam;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("Unknown --optimizer ", name,
                     "; a sparse model takes sgd, adagrad, ftrl or lazy_adam"));
  }
  spec.learning_rate = absl::GetFlag(FLAGS_learning_rate);
  return spec;
}

std::vector<std::string> ShardTargets() {
  return absl::StrSplit(absl::GetFlag(FLAGS_servers), ',', absl::SkipEmpty());
}

// One connection: a ShardedClient over --servers (its cluster checked), or
// a client of --server.
absl::StatusOr<std::unique_ptr<VariableClient>> Connect() {
  ClientOptions options;
  if (absl::Status s = SetTlsAndToken(
          absl::GetFlag(FLAGS_tls_ca), absl::GetFlag(FLAGS_tls_cert),
          absl::GetFlag(FLAGS_tls_key), absl::GetFlag(FLAGS_token), options);
      !s.ok()) {
    return s;
  }
  options.job = absl::GetFlag(FLAGS_job);
  const std::vector<std::string> targets = ShardTargets();
  if (targets.empty()) {
    options.expected_place = ShardPlace{options.job, 0, 1};
    return ParameterServerClient::Connect(absl::GetFlag(FLAGS_server), options);
  }
  auto sharded = ShardedClient::Connect(targets, options);
  if (!sharded.ok()) return sharded.status();
  if (absl::Status s = (*sharded)->CheckCluster().status(); !s.ok()) return s;
  return std::unique_ptr<VariableClient>(*std::move(sharded));
}

// The [buckets, 1] table of zeros, created by whichever worker comes first:
// partitioned over the shards with --servers.
absl::Status CreateTable(VariableClient& client) {
  VariableRequest request;
  request.name = absl::GetFlag(FLAGS_table);
  request.shape = TensorShape{absl::GetFlag(FLAGS_buckets), 1};
  request.reuse = ReuseMode::kAutoReuse;
  request.initializer.kind = InitializerKind::kZeros;
  if (auto* sharded = dynamic_cast<ShardedClient*>(&client)) {
    return sharded->GetPartitionedVariable(request, sharded->num_shards())
        .status();
  }
  return client.GetVariable(request).status();
}

// The batch's looked-up weights, one per id.
absl::StatusOr<std::vector<float>> Lookup(VariableClient& client,
                                          const ClickBatch& batch) {
  auto rows = client.EmbeddingLookup(absl::GetFlag(FLAGS_table), batch.ids);
  if (!rows.ok()) return rows.status();
  std::vector<float> weights(batch.ids.size());
  if (rows->rows.size() != weights.size() * sizeof(float)) {
    return absl::InternalError(absl::StrCat(
        "Lookup of ", batch.ids.size(), " ids returned ", rows->rows.size(),
        " bytes; the table's rows must be one float32 each"));
  }
  std::memcpy(weights.data(), rows->rows.data(), rows->rows.size());
  return weights;
}

absl::StatusOr<double> EvaluationLoss(VariableClient& client,
                                      const ClickData& data,
                                      const ClickBatch& held_out) {
  auto weights = Lookup(client, held_out);
  if (!weights.ok()) return weights.status();
  std::vector<float> unused;
  return LogLossAndGradient(held_out, data.ids_per_example(), *weights,
                            &unused);
}

// One worker's steps: lookup, loss and gradient, sparse push.
absl::Status RunWorker(int worker, const ClickData& data,
                       const OptimizerSpec& optimizer, absl::Mutex& print_mu) {
  auto client = Connect();
  if (!client.ok()) return client.status();
  const int steps = absl::GetFlag(FLAGS_steps);
  const int log_every = absl::GetFlag(FLAGS_log_every);
  std::vector<float> gradient;
  double window_loss = 0;
  int window_steps = 0;
  for (int step = 1; step <= steps; ++step) {
    const ClickBatch batch = data.Sample(absl::GetFlag(FLAGS_batch),
                                         uint64_t(worker + 1) << 32 | step);
    auto weights = Lookup(**client, batch);
    if (!weights.ok()) return weights.status();
    auto loss =
        LogLossAndGradient(batch, data.ids_per_example(), *weights, &gradient);
    if (!loss.ok()) return loss.status();
    RowUpdateSpec push;
    push.name = absl::GetFlag(FLAGS_table);
    push.kind = UpdateKind::kApplyGradient;
    push.optimizer = optimizer;
    push.ids = batch.ids;
    push.rows =
        absl::string_view(reinterpret_cast<const char*>(gradient.data()),
                          gradient.size() * sizeof(float));
    if (auto pushed = (*client)->PushRows(push); !pushed.ok()) {
      return pushed.status();
    }
    window_loss += *loss;
    ++window_steps;
    if (step % log_every == 0 || step == steps) {
      absl::MutexLock lock(&print_mu);
      std::printf("worker %d step %4d/%d  training log loss %.4f\n", worker,
                  step, steps, window_loss / window_steps);
      std::fflush(stdout);
      window_loss = 0;
      window_steps = 0;
    }
  }
  return absl::OkStatus();
}

absl::Status Train() {
  for (const auto& [name, value] :
       {std::pair("--workers", absl::GetFlag(FLAGS_workers)),
        std::pair("--steps", absl::GetFlag(FLAGS_steps)),
        std::pair("--batch", absl::GetFlag(FLAGS_batch)),
        std::pair("--eval_examples", absl::GetFlag(FLAGS_eval_examples)),
        std::pair("--log_every", absl::GetFlag(FLAGS_log_every))}) {
    if (value <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be positive; got ", value));
    }
  }
  ClickModelOptions model;
  model.buckets = absl::GetFlag(FLAGS_buckets);
  absl::StatusOr<ClickData> data = ClickData::Create(model);
  if (!data.ok()) return data.status();
  absl::StatusOr<OptimizerSpec> optimizer = OptimizerFromFlags();
  if (!optimizer.ok()) return optimizer.status();
  auto client = Connect();
  if (!client.ok()) return client.status();
  if (absl::Status s = CreateTable(**client); !s.ok()) return s;

  const ClickBatch held_out =
      data->Sample(absl::GetFlag(FLAGS_eval_examples), kEvaluationSeed);
  auto before = EvaluationLoss(**client, *data, held_out);
  if (!before.ok()) return before.status();
  const int workers = absl::GetFlag(FLAGS_workers);
  std::printf(
      "%s: %lld buckets%s; %d workers x %d steps of %d examples (%d ids "
      "each), %s\n",
      absl::GetFlag(FLAGS_table).c_str(), static_cast<long long>(model.buckets),
      ShardTargets().empty()
          ? ""
          : absl::StrCat(", ", ShardTargets().size(), " parts over the shards")
                .c_str(),
      workers, absl::GetFlag(FLAGS_steps), absl::GetFlag(FLAGS_batch),
      data->ids_per_example(), absl::GetFlag(FLAGS_optimizer).c_str());
  std::printf("held-out log loss before training %.4f\n", *before);

  absl::Mutex print_mu;
  std::vector<absl::Status> results(workers);
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back(
        [&, w] { results[w] = RunWorker(w, *data, *optimizer, print_mu); });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (int w = 0; w < workers; ++w) {
    if (!results[w].ok()) {
      return absl::Status(
          results[w].code(),
          absl::StrCat("worker ", w, ": ", results[w].message()));
    }
  }
  auto after = EvaluationLoss(**client, *data, held_out);
  if (!after.ok()) return after.status();
  std::printf(
      "held-out log loss after training %.4f (predicting the base rate %.4f, "
      "the hidden model %.4f); %.0f steps/s\n",
      *after, BaseRateLogLoss(held_out), held_out.hidden_log_loss,
      workers * absl::GetFlag(FLAGS_steps) / seconds);
  const double bound = absl::GetFlag(FLAGS_max_log_loss);
  if (bound > 0 && !(*after <= bound)) {  // A NaN loss fails too.
    return absl::FailedPreconditionError(
        absl::StrCat("The held-out log loss after training, ", *after,
                     ", is above --max_log_loss=", bound));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::Status s = paramserver::Train(); !s.ok()) {
    std::fprintf(stderr, "train_click_model: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
