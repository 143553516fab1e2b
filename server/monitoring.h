#ifndef PARAM_SERVER_SERVER_MONITORING_H_
#define PARAM_SERVER_SERVER_MONITORING_H_
// What ps_server's HTTP port (--http_port) serves operators, in plain C++:
//   /healthz  200 while the process runs (liveness);
//   /readyz   200 while serving; 503 while the data directory is restored
//             and while draining at shutdown (readiness);
//   /metrics  Prometheus' text format: calls by method and code, latency,
//             bytes sent, calls in flight, variables and bytes held (in all
//             and per top-level scope), the process's memory against
//             --max_total_bytes, the write-ahead log's appends and fsync
//             latency, checkpoints' duration, size and time.
// With tokens on, /metrics needs a reader token that reaches every name
// ("Authorization: Bearer <token>"); the probes need none.

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "server/auth.h"
#include "server/durability/durability.h"
#include "server/http_endpoint.h"
#include "server/rpc_metrics.h"
#include "server/variable_store.h"

namespace paramserver {

class Monitoring {
 public:
  // `tokens` (null: none) must outlive this object.
  explicit Monitoring(const TokenTable* tokens);

  RpcMetrics& rpc_metrics() { return rpc_metrics_; }

  // Readiness: starting, then serving `store` with `durability` (null
  // without a data directory; both must stay alive until Draining()
  // returns), then draining.
  void Serving(VariableStore* store, const Durability* durability)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Draining() ABSL_LOCKS_EXCLUDED(mu_);

  // Thread-safe.
  HttpResponse Handle(const HttpRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class State { kStarting, kServing, kDraining };

  HttpResponse Route(const HttpRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  HttpResponse Metrics() ABSL_LOCKS_EXCLUDED(mu_);
  void AppendStoreMetrics(PrometheusText& text)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AppendDurabilityMetrics(PrometheusText& text)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Null when the request may read the metrics; else the refusal.
  std::optional<HttpResponse> Refusal(const HttpRequest& request) const;

  const TokenTable* const tokens_;
  const absl::Time started_ = absl::Now();
  RpcMetrics rpc_metrics_;
  // By path served (and "other"), by status class: bounded labels.
  std::atomic<uint64_t> http_requests_[4][6] = {};

  // Read without mu_, so that /readyz never waits for a scrape.
  std::atomic<State> state_{State::kStarting};
  // Held while a scrape reads the store, so that Draining() returns only
  // once no scrape uses it.
  mutable Mutex mu_;
  VariableStore* store_ ABSL_GUARDED_BY(mu_) = nullptr;
  const Durability* durability_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_MONITORING_H_
