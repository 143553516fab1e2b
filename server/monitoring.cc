#include "server/monitoring.h"

#include <unistd.h>

#include <cstdio>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

void Monitoring::Serving(const VariableStore* store) {
  absl::MutexLock lock(&mu_);
  state_ = State::kServing;
  store_ = store;
}

void Monitoring::Draining() {
  absl::MutexLock lock(&mu_);
  state_ = State::kDraining;
  store_ = nullptr;
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
    absl::MutexLock lock(&mu_);
    switch (state_) {
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
    absl::MutexLock lock(&mu_);
    text.Family("ps_ready", "gauge",
                "1 while serving; 0 while starting or draining.");
    text.Sample("ps_ready", {}, state_ == State::kServing ? 1 : 0);
    if (store_ != nullptr) {
      text.Family("ps_variables", "gauge", "Variables held.");
      text.Sample("ps_variables", {},
                  static_cast<double>(store_->num_variables()));
      text.Family("ps_variable_bytes", "gauge",
                  "Bytes of variable values held, as counted against "
                  "--max_total_bytes.");
      text.Sample("ps_variable_bytes", {},
                  static_cast<double>(store_->total_bytes()));
      text.Family("ps_max_total_bytes", "gauge",
                  "The --max_total_bytes limit.");
      text.Sample("ps_max_total_bytes", {},
                  static_cast<double>(store_->max_total_bytes()));
    }
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
