#ifndef PARAM_SERVER_SERVER_MONITORING_H_
#define PARAM_SERVER_SERVER_MONITORING_H_
// What ps_server's HTTP port (--http_port) serves operators, in plain C++:
//   /healthz       200 while the process runs (liveness);
//   /readyz        200 while serving; 503 while the data directory is
//                  restored and while draining at shutdown (readiness);
//   /metrics       Prometheus' text format: calls by method and code,
//                  latency, bytes received and sent, calls in flight, open
//                  sessions, variables and bytes held (in all and per
//                  top-level scope), optimizer steps by optimizer, stale
//                  pushes refused, dynamic tables' rows, admissions and
//                  evictions, the process's memory against
//                  --max_total_bytes, the write-ahead log's appends and
//                  fsync latency, checkpoints' duration, size and time;
//   /api/stats     the same figures as JSON, with uptime and flags (what
//                  `psctl stats` prints);
//   /              the operator page (server/operator_page.h), which reads
//   /api/scope?name=S     one level of the scope tree, and
//   /api/variable?name=V  a variable's details and histogram
//                  (server/operator_api.h).
// With tokens on, /metrics and /api/stats need a reader token that reaches
// every name ("Authorization: Bearer <token>"); /api/scope and
// /api/variable need a reader token and show only the names it reaches;
// the page itself and the probes need none.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "server/auth.h"
#include "server/durability/durability.h"
#include "server/http_endpoint.h"
#include "server/rate_window.h"
#include "server/rpc_metrics.h"
#include "server/variable_store.h"

namespace paramserver {

class Monitoring {
 public:
  // `tokens` (null: none) must outlive this object. Reads the RPC
  // counters every `rate_interval` (for the rates /api/stats shows, over
  // the last 10 s); zero leaves that to SampleRates.
  // Requests other than the probes must name, in their Host header, an IP
  // address, "localhost" or one of `allowed_hosts` (a page elsewhere that
  // rebinds its own name to this address is refused: DNS rebinding).
  explicit Monitoring(const TokenTable* tokens,
                      std::vector<std::string> allowed_hosts = {},
                      absl::Duration rate_interval = absl::Seconds(1));
  ~Monitoring();

  // Adds a reading of the RPC counters to the rate window.
  void SampleRates() { rates_.Add(absl::Now(), rpc_metrics_.Totals()); }

  RpcMetrics& rpc_metrics() { return rpc_metrics_; }

  // What the page and /api/stats show of the server; before Serving.
  void Describe(std::string server,
                std::vector<std::pair<std::string, std::string>> flags)
      ABSL_LOCKS_EXCLUDED(mu_);

  struct Served {
    VariableStore* store = nullptr;
    const Durability* durability = nullptr;  // Null: no data directory.
    std::function<size_t()> open_sessions;   // Session streams open now.
  };
  // Readiness: starting, then serving (everything in `served` must stay
  // alive until Draining() returns), then draining.
  void Serving(Served served) ABSL_LOCKS_EXCLUDED(mu_);
  void Draining() ABSL_LOCKS_EXCLUDED(mu_);

  // Thread-safe.
  HttpResponse Handle(const HttpRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class State { kStarting, kServing, kDraining };

  HttpResponse Route(const HttpRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  HttpResponse Metrics() ABSL_LOCKS_EXCLUDED(mu_);
  HttpResponse Stats() ABSL_LOCKS_EXCLUDED(mu_);
  HttpResponse Scope(const HttpRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  HttpResponse Variable(const HttpRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  // Null when the request's token may read every name in `names` ({""}:
  // the whole server); else the refusal (401 or 403).
  std::optional<HttpResponse> Refusal(const HttpRequest& request,
                                      const std::vector<std::string>& names = {
                                          std::string()}) const;
  // Null when the Host header is one this server answers to.
  std::optional<HttpResponse> ForeignHost(const HttpRequest& request) const;
  // Whether the request's token may read `name` (always without tokens).
  bool Visible(const HttpRequest& request, absl::string_view name) const;

  const TokenTable* const tokens_;
  const std::vector<std::string> allowed_hosts_;
  const absl::Time started_ = absl::Now();
  RpcMetrics rpc_metrics_;
  RateWindow rates_{absl::Seconds(10)};
  // Runs SampleRates until sampler_stop_.
  Mutex sampler_mu_;
  bool sampler_stop_ ABSL_GUARDED_BY(sampler_mu_) = false;
  std::thread sampler_;
  // By path served (and "other"), by status code: bounded labels.
  std::atomic<uint64_t> http_requests_[8][7] = {};

  // Read without mu_, so that /readyz never waits for a scrape.
  std::atomic<State> state_{State::kStarting};
  // Held while a scrape reads the store, so that Draining() returns only
  // once no scrape uses it.
  mutable Mutex mu_;
  Served served_ ABSL_GUARDED_BY(mu_);
  std::string server_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> flags_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_MONITORING_H_
