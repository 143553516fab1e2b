#include "server/monitoring.h"

#include <unistd.h>

#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/tensor_shape.h"
#include "server/grpc_metrics.h"
#include "server/metrics.h"

namespace paramserver {
namespace {

constexpr const char* kPaths[] = {"/metrics", "/healthz", "/readyz", "other"};
constexpr int kCodes[] = {200, 401, 403, 404, 405, 503};

int PathIndex(absl::string_view path) {
  for (int i = 0; i < 3; ++i) {
    if (path == kPaths[i]) return i;
  }
  return 3;
}

int CodeIndex(int code) {
  for (int i = 0; i < 6; ++i) {
    if (code == kCodes[i]) return i;
  }
  return -1;
}

HttpResponse Text(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// Resident set size from /proc/self/statm; 0 when unreadable.
double ResidentBytes() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int read = std::fscanf(statm, "%lu %lu", &size, &resident);
  std::fclose(statm);
  if (read != 2) return 0;
  return static_cast<double>(resident) *
         static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

Monitoring::Monitoring(const TokenTable* tokens)
    : tokens_(tokens), rpc_metrics_(ServedMethods()) {}

void Monitoring::Serving(VariableStore* store, const Durability* durability) {
  MutexLock lock(&mu_);
  state_ = State::kServing;
  store_ = store;
  durability_ = durability;
}

void Monitoring::Draining() {
  MutexLock lock(&mu_);
  state_ = State::kDraining;
  store_ = nullptr;
  durability_ = nullptr;
}

HttpResponse Monitoring::Handle(const HttpRequest& request) {
  HttpResponse response = Route(request);
  if (const int code = CodeIndex(response.status); code >= 0) {
    http_requests_[PathIndex(request.path)][code].fetch_add(
        1, std::memory_order_relaxed);
  }
  return response;
}

HttpResponse Monitoring::Route(const HttpRequest& request) {
  if (request.path == "/healthz") return Text(200, "ok\n");
  if (request.path == "/readyz") {
    switch (state_.load()) {
      case State::kStarting:
        return Text(503, "starting: restoring the data directory\n");
      case State::kServing:
        return Text(200, "ready\n");
      case State::kDraining:
        return Text(503, "draining: shutting down\n");
    }
  }
  if (request.path == "/metrics") {
    if (std::optional<HttpResponse> refusal = Refusal(request)) {
      return *std::move(refusal);
    }
    return Metrics();
  }
  return Text(404, absl::StrCat("Not found. Served here: /metrics, /healthz, "
                                "/readyz.\n"));
}

std::optional<HttpResponse> Monitoring::Refusal(
    const HttpRequest& request) const {
  if (tokens_ == nullptr) return std::nullopt;
  constexpr absl::string_view kBearer = "Bearer ";
  absl::string_view token;
  if (absl::StartsWith(request.authorization, kBearer)) {
    token = absl::string_view(request.authorization).substr(kBearer.size());
  }
  // "" stands for every name: a token limited to prefixes would see the
  // whole server's figures.
  const absl::Status allowed =
      tokens_->Authorize(token, Action::kRead, {std::string()});
  if (allowed.ok()) return std::nullopt;
  HttpResponse refused = Text(absl::IsUnauthenticated(allowed) ? 401 : 403,
                              absl::StrCat(allowed.message(), "\n"));
  if (refused.status == 401) {
    refused.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return refused;
}

void Monitoring::AppendStoreMetrics(PrometheusText& text) {
  text.Family("ps_variables", "gauge", "Variables held (slots included).");
  text.Sample("ps_variables", {}, static_cast<double>(store_->num_variables()));
  text.Family("ps_variable_bytes", "gauge",
              "Bytes of variable values held, as counted against "
              "--max_total_bytes.");
  text.Sample("ps_variable_bytes", {},
              static_cast<double>(store_->total_bytes()));
  text.Family("ps_max_total_bytes", "gauge", "The --max_total_bytes limit.");
  text.Sample("ps_max_total_bytes", {},
              static_cast<double>(store_->max_total_bytes()));
  // Per top-level scope (the name's first component). Writers choose the
  // names: past kMaxScopes scopes, the rest are summed as "(other)".
  constexpr size_t kMaxScopes = 100;
  absl::StatusOr<std::vector<VariableInfo>> all = store_->ListVariables("");
  if (!all.ok()) return;
  std::map<std::string, std::pair<int64_t, uint64_t>> scopes;
  for (const VariableInfo& info : *all) {
    std::string scope = info.name.substr(0, info.name.find('/'));
    if (scopes.size() >= kMaxScopes && !scopes.count(scope)) {
      scope = "(other)";
    }
    absl::StatusOr<uint64_t> bytes = ValueByteSize(info.shape, info.dtype);
    auto& [count, total] = scopes[scope];
    ++count;
    total += bytes.ok() ? *bytes : 0;
  }
  text.Family("ps_scope_variables", "gauge",
              "Variables held under each top-level scope.");
  for (const auto& [scope, figures] : scopes) {
    text.Sample("ps_scope_variables", {{"scope", scope}},
                static_cast<double>(figures.first));
  }
  text.Family("ps_scope_variable_bytes", "gauge",
              "Bytes of variable values under each top-level scope.");
  for (const auto& [scope, figures] : scopes) {
    text.Sample("ps_scope_variable_bytes", {{"scope", scope}},
                static_cast<double>(figures.second));
  }
}

void Monitoring::AppendDurabilityMetrics(PrometheusText& text) {
  const WriteAheadLog::Stats wal = durability_->log().stats();
  text.Family("ps_wal_records_total", "counter",
              "Records appended to the write-ahead log since start.");
  text.Sample("ps_wal_records_total", {}, static_cast<double>(wal.records));
  text.Family("ps_wal_bytes_total", "counter",
              "Bytes appended to the write-ahead log since start.");
  text.Sample("ps_wal_bytes_total", {}, static_cast<double>(wal.bytes));
  text.Family("ps_wal_fsync_seconds", "histogram",
              "Time each fsync of the write-ahead log took.");
  text.HistogramSamples("ps_wal_fsync_seconds", {},
                        durability_->log().sync_seconds());
  const Durability::CheckpointStats checkpoints =
      durability_->checkpoint_stats();
  text.Family("ps_checkpoints_total", "counter",
              "Checkpoints written since start, by result.");
  text.Sample("ps_checkpoints_total", {{"result", "ok"}},
              static_cast<double>(checkpoints.written));
  text.Sample("ps_checkpoints_total", {{"result", "failed"}},
              static_cast<double>(checkpoints.failed));
  if (checkpoints.written == 0) return;
  text.Family("ps_checkpoint_last_duration_seconds", "gauge",
              "How long the newest checkpoint took to write.");
  text.Sample("ps_checkpoint_last_duration_seconds", {},
              checkpoints.last_seconds);
  text.Family("ps_checkpoint_last_value_bytes", "gauge",
              "Bytes of variable values in the newest checkpoint.");
  text.Sample("ps_checkpoint_last_value_bytes", {},
              static_cast<double>(checkpoints.last_value_bytes));
  text.Family("ps_checkpoint_last_timestamp_seconds", "gauge",
              "When the newest checkpoint was written, since the Unix "
              "epoch (its age: time() - this).");
  text.Sample("ps_checkpoint_last_timestamp_seconds", {},
              absl::ToDoubleSeconds(checkpoints.last_time - absl::UnixEpoch()));
}

HttpResponse Monitoring::Metrics() {
  PrometheusText text;
  rpc_metrics_.AppendTo(text);
  text.Family("ps_http_requests_total", "counter",
              "Requests to this HTTP port, by path and status code.");
  for (int path = 0; path < 4; ++path) {
    for (int code = 0; code < 6; ++code) {
      const uint64_t count = http_requests_[path][code].load();
      if (count == 0) continue;
      text.Sample(
          "ps_http_requests_total",
          {{"path", kPaths[path]}, {"code", absl::StrCat(kCodes[code])}},
          static_cast<double>(count));
    }
  }
  {
    MutexLock lock(&mu_);
    text.Family("ps_ready", "gauge",
                "1 while serving; 0 while starting or draining.");
    text.Sample("ps_ready", {}, state_.load() == State::kServing ? 1 : 0);
    if (store_ != nullptr) AppendStoreMetrics(text);
    if (durability_ != nullptr) AppendDurabilityMetrics(text);
  }
  text.Family("process_resident_memory_bytes", "gauge",
              "Resident memory size in bytes.");
  text.Sample("process_resident_memory_bytes", {}, ResidentBytes());
  text.Family("process_start_time_seconds", "gauge",
              "Start time of the process since the Unix epoch in seconds.");
  text.Sample("process_start_time_seconds", {},
              absl::ToDoubleSeconds(started_ - absl::UnixEpoch()));
  HttpResponse response;
  response.content_type = std::string(kPrometheusContentType);
  response.body = text.text();
  return response;
}

}  // namespace paramserver
