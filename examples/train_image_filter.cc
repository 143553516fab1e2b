// A training worker: learns the image filter's weights so that its output
// reproduces a fixed, hidden "teacher" filter on random images. Each step it
// pulls the current weights (only those that changed), computes the loss and
// gradients locally with oneDNN, and pushes the gradients; the server applies
// them with the chosen optimizer. Run several at once against one server, or
// against several sharded ones (--servers, the same list for every worker).
// While a server is unreachable (restarting) the worker says so and retries
// the step, for up to --retry_seconds.
//
//   train_image_filter --server=HOST:PORT --worker=0 --steps=100
//   train_image_filter --servers=ps-0.ps:2222,ps-1.ps:2222 --worker=0

#include <array>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/sharded_client.h"
#include "client/variable_scope.h"
#include "examples/image_filter.h"
#include "examples/image_filter_trainer.h"
#include "server/initializer.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2222", "Parameter server HOST:PORT.");
ABSL_FLAG(std::string, servers, "",
          "Sharded parameter servers HOST:PORT,HOST:PORT,... in shard order "
          "(overrides --server).");
ABSL_FLAG(std::string, job, "",
          "The job the servers must belong to (their --job); empty checks "
          "only each server's place in the list.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificate(s) the servers' certificates must chain to; "
          "turns on TLS.");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate, for mutual TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, token, "",
          "Bearer token for servers started with --tokens_file (or PS_TOKEN).");
ABSL_FLAG(double, retry_seconds, 120,
          "How long to keep retrying while a server is unreachable.");
ABSL_FLAG(int, worker, 0, "This worker's index (seeds its data).");
ABSL_FLAG(int, steps, 100, "Training steps.");
ABSL_FLAG(int, batch, 4, "Images per step.");
ABSL_FLAG(int, size, 32, "Image height and width; 32 channels.");
ABSL_FLAG(std::string, optimizer, "adam",
          "sgd, momentum, adagrad, adam, lazy_adam or ftrl.");
ABSL_FLAG(double, learning_rate, 0.001, "Learning rate.");
ABSL_FLAG(int, max_staleness, 0,
          "Reject gradients this many versions stale (0: off).");
ABSL_FLAG(int, log_every, 10, "Print progress every this many steps.");

namespace paramserver {
namespace {

constexpr int kTensors = 4;
const char* const kNames[kTensors] = {
    "student/conv1/weights", "student/conv1/biases", "student/conv2/weights",
    "student/conv2/biases"};

absl::StatusOr<OptimizerSpec> OptimizerFromFlags() {
  OptimizerSpec spec;
  const std::string name = absl::GetFlag(FLAGS_optimizer);
  if (name == "sgd")
    spec.kind = OptimizerKind::kSgd;
  else if (name == "momentum")
    spec.kind = OptimizerKind::kMomentum;
  else if (name == "adagrad")
    spec.kind = OptimizerKind::kAdagrad;
  else if (name == "adam")
    spec.kind = OptimizerKind::kAdam;
  else if (name == "lazy_adam")
    spec.kind = OptimizerKind::kLazyAdam;
  else if (name == "ftrl")
    spec.kind = OptimizerKind::kFtrl;
  else
    return absl::InvalidArgumentError("Unknown --optimizer " + name);
  spec.learning_rate = absl::GetFlag(FLAGS_learning_rate);
  return spec;
}

// The hidden teacher: fixed weights every worker derives from one seed.
FilterTensors TeacherWeights(int64_t channels) {
  FilterTensors teacher;
  const TensorShape shapes[kTensors] = {{5, 5, channels, channels},
                                        {channels},
                                        {5, 5, channels, channels},
                                        {channels}};
  for (int t = 0; t < kTensors; ++t) {
    InitializerSpec init;
    init.kind = t % 2 == 0 ? InitializerKind::kRandomNormal
                           : InitializerKind::kRandomUniform;
    init.stddev = 0.05;
    init.maxval = 0.1;
    init.seed = 1000 + t;
    teacher[t].resize(*NumElements(shapes[t]));
    RunInitializer(init, DType::kFloat, shapes[t],
                   absl::MakeSpan(reinterpret_cast<char*>(teacher[t].data()),
                                  teacher[t].size() * sizeof(float)));
  }
  return teacher;
}

FilterViews Views(const FilterTensors& tensors) {
  return {tensors[0], tensors[1], tensors[2], tensors[3]};
}

std::vector<float> RandomImages(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> images(n);
  for (float& x : images) x = uniform(rng);
  return images;
}

// The student's variables, created by whichever worker comes first.
absl::Status CreateStudent(VariableClient& client) {
  VariableScope student("student", {.reuse = ScopeReuse::kAutoReuse});
  ImageFilterOptions options;
  options.weights_stddev = 0.05;
  options.seed = 7;
  return GetImageFilterVariables(client, options).status();
}

struct WorkerState {
  FilterTensors weights;
  std::array<int64_t, kTensors> versions = {0, 0, 0, 0};
  int64_t local_version = 0;  // Bumped whenever any tensor changed.
};

// Conditional pull: only tensors newer than the ones held travel.
absl::Status PullWeights(VariableClient& client, WorkerState& state) {
  std::vector<PullItemSpec> items;
  for (int t = 0; t < kTensors; ++t)
    items.push_back({kNames[t], state.versions[t]});
  absl::StatusOr<std::vector<PulledValue>> pulled = client.Pull(items);
  if (!pulled.ok()) return pulled.status();
  for (int t = 0; t < kTensors; ++t) {
    PulledValue& value = (*pulled)[t];
    if (value.unchanged) continue;
    state.versions[t] = value.info.version;
    state.weights[t].resize(value.value.size() / sizeof(float));
    std::memcpy(state.weights[t].data(), value.value.data(),
                value.value.size());
    ++state.local_version;
  }
  return absl::OkStatus();
}

// `push_id` names the step's push; every retry of the step reuses it.
absl::Status PushGradients(VariableClient& client, const WorkerState& state,
                           const FilterTensors& gradients,
                           const OptimizerSpec& optimizer,
                           const std::string& push_id) {
  PushSpec push;
  push.push_id = push_id;
  push.optimizer = optimizer;
  push.max_staleness = absl::GetFlag(FLAGS_max_staleness);
  for (int t = 0; t < kTensors; ++t) {
    push.updates.push_back(
        {kNames[t], UpdateKind::kApplyGradient,
         absl::string_view(reinterpret_cast<const char*>(gradients[t].data()),
                           gradients[t].size() * sizeof(float)),
         state.versions[t]});
  }
  return client.Push(push).status();
}

void PrintProgress(int worker, int step, int steps, double loss, int stale) {
  constexpr int kWidth = 20;
  const int filled = step * kWidth / steps;
  std::printf(
      "worker %d [%s%s] step %4d/%d  loss %.6f%s\n", worker,
      std::string(filled, '#').c_str(),
      std::string(kWidth - filled, '.').c_str(), step, steps, loss,
      stale > 0 ? absl::StrCat("  (", stale, " stale pushes rejected)").c_str()
                : "");
  std::fflush(stdout);
}

// The loss on a fixed batch every worker shares, with the current weights.
absl::StatusOr<double> EvaluationLoss(VariableClient& client,
                                      ImageFilterTrainer& trainer,
                                      const FilterTensors& teacher,
                                      WorkerState& state) {
  constexpr uint64_t kEvaluationSeed = 999;
  const std::vector<float> images =
      RandomImages(trainer.image_elements(), kEvaluationSeed);
  std::vector<float> targets(images.size());
  if (absl::Status s =
          trainer.Forward(Views(teacher), -1, images, absl::MakeSpan(targets));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = PullWeights(client, state); !s.ok()) return s;
  FilterTensors unused;
  return trainer.LossAndGradients(Views(state.weights), state.local_version,
                                  images, targets, &unused);
}

// Runs `op` until it succeeds, fails with anything but UNAVAILABLE, or the
// servers have been unreachable for --retry_seconds.
template <typename Op>
absl::Status RetryWhileUnavailable(int worker, Op op) {
  const absl::Time give_up =
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_retry_seconds));
  for (;;) {
    absl::Status status = op();
    if (status.code() != absl::StatusCode::kUnavailable ||
        absl::Now() > give_up) {
      return status;
    }
    std::fprintf(stderr, "worker %d: %s; retrying\n", worker,
                 status.ToString().c_str());
    absl::SleepFor(absl::Milliseconds(500));
  }
}

absl::StatusOr<ClientOptions> ClientOptionsFromFlags() {
  ClientOptions options;
  if (absl::Status s = SetTlsAndToken(
          absl::GetFlag(FLAGS_tls_ca), absl::GetFlag(FLAGS_tls_cert),
          absl::GetFlag(FLAGS_tls_key), absl::GetFlag(FLAGS_token), options);
      !s.ok()) {
    return s;
  }
  return options;
}

// Every call states the place it expects of its server: shard 0 of 1 with
// --server, shard i of N with --servers (of --job when given). A sharded
// worker asks every shard at once, so a list in another order, longer or
// shorter than the job's, fails here, before anything is created.
absl::StatusOr<std::unique_ptr<VariableClient>> ConnectFromFlags(int worker) {
  absl::StatusOr<ClientOptions> options = ClientOptionsFromFlags();
  if (!options.ok()) return options.status();
  options->job = absl::GetFlag(FLAGS_job);
  const std::string servers = absl::GetFlag(FLAGS_servers);
  if (servers.empty()) {
    options->expected_place = ShardPlace{options->job, 0, 1};
    return ParameterServerClient::Connect(absl::GetFlag(FLAGS_server),
                                          *options);
  }
  const std::vector<std::string> targets =
      absl::StrSplit(servers, ',', absl::SkipEmpty());
  absl::StatusOr<std::unique_ptr<ShardedClient>> sharded =
      ShardedClient::Connect(targets, *options);
  if (!sharded.ok()) return sharded.status();
  if (absl::Status s = RetryWhileUnavailable(
          worker, [&] { return (*sharded)->CheckCluster().status(); });
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<VariableClient>(*std::move(sharded));
}

absl::Status Train() {
  auto client = ConnectFromFlags(absl::GetFlag(FLAGS_worker));
  if (!client.ok()) return client.status();
  absl::StatusOr<OptimizerSpec> optimizer = OptimizerFromFlags();
  if (!optimizer.ok()) return optimizer.status();
  const int worker = absl::GetFlag(FLAGS_worker),
            steps = absl::GetFlag(FLAGS_steps);
  if (absl::Status s = RetryWhileUnavailable(
          worker, [&] { return CreateStudent(**client); });
      !s.ok()) {
    return s;
  }
  const TrainerShape shape{.batch = absl::GetFlag(FLAGS_batch),
                           .size = absl::GetFlag(FLAGS_size)};
  auto trainer = ImageFilterTrainer::Create(shape);
  if (!trainer.ok()) return trainer.status();
  const FilterTensors teacher = TeacherWeights(shape.channels);
  WorkerState state;
  FilterTensors gradients;
  std::vector<float> targets((*trainer)->image_elements());
  // The shared evaluation batch's loss, retried while a server is unreachable.
  const auto evaluate = [&](double& loss) {
    return RetryWhileUnavailable(worker, [&]() -> absl::Status {
      absl::StatusOr<double> value =
          EvaluationLoss(**client, **trainer, teacher, state);
      if (value.ok()) loss = *value;
      return value.status();
    });
  };
  double initial = 0;
  if (absl::Status s = evaluate(initial); !s.ok()) return s;
  std::printf("worker %d: evaluation loss before training %.6f\n", worker,
              initial);
  int stale = 0;
  double window_loss = 0;
  // This run's own: a restarted worker's steps get new ids.
  const std::string run_id = NewPushId().substr(0, 16);
  for (int step = 1; step <= steps; ++step) {
    const std::vector<float> images = RandomImages(
        (*trainer)->image_elements(), uint64_t(worker) << 32 | step);
    if (absl::Status s = (*trainer)->Forward(Views(teacher), -1, images,
                                             absl::MakeSpan(targets));
        !s.ok())
      return s;
    // A step whose pull or push found a server unreachable is redone, its
    // push under the same id: shards that applied the step's push (before
    // the failure, or a shard that logged it and lost the reply when it was
    // killed) answer the repeat without applying it again, so each shard
    // applies the step's gradient once.
    const std::string push_id =
        absl::StrCat("w", worker, "-", run_id, "-s", step);
    double loss = 0;
    absl::Status status = RetryWhileUnavailable(worker, [&]() -> absl::Status {
      if (absl::Status s = PullWeights(**client, state); !s.ok()) return s;
      absl::StatusOr<double> step_loss = (*trainer)->LossAndGradients(
          Views(state.weights), state.local_version, images, targets,
          &gradients);
      if (!step_loss.ok()) return step_loss.status();
      loss = *step_loss;
      return PushGradients(**client, state, gradients, *optimizer, push_id);
    });
    if (status.code() == absl::StatusCode::kAborted)
      ++stale;
    else if (!status.ok())
      return status;
    window_loss += loss;
    const int every = absl::GetFlag(FLAGS_log_every);
    if (step % every == 0 || step == steps) {
      PrintProgress(worker, step, steps,
                    window_loss / (step % every == 0 ? every : step % every),
                    stale);
      window_loss = 0;
    }
  }
  double final_loss = 0;
  if (absl::Status s = evaluate(final_loss); !s.ok()) return s;
  std::printf("worker %d: evaluation loss after training %.6f\n", worker,
              final_loss);
  return absl::OkStatus();
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = paramserver::Train();
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
