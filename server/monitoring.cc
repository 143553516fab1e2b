#include "server/monitoring.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/json_writer.h"
#include "server/grpc_metrics.h"
#include "server/metrics.h"
#include "server/operator_api.h"
#include "server/operator_page.h"
#include "server/server_figures.h"

namespace paramserver {
namespace {

constexpr const char* kPaths[] = {
    "/",          "/metrics",   "/healthz",      "/readyz",
    "/api/stats", "/api/scope", "/api/variable", "other"};
constexpr int kNumPaths = 8;
constexpr int kCodes[] = {200, 400, 401, 403, 404, 405, 503};
constexpr int kNumCodes = 7;

int PathIndex(absl::string_view path) {
  for (int i = 0; i < kNumPaths - 1; ++i) {
    if (path == kPaths[i]) return i;
  }
  return kNumPaths - 1;
}

int CodeIndex(int code) {
  for (int i = 0; i < kNumCodes; ++i) {
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

HttpResponse Json(std::string body) {
  HttpResponse response;
  response.content_type = "application/json";
  response.body = std::move(body);
  return response;
}

// An error as the API answers it: the status's HTTP code, its message.
HttpResponse ApiError(const absl::Status& status) {
  int code = 500;
  if (absl::IsNotFound(status)) code = 404;
  if (absl::IsInvalidArgument(status)) code = 400;
  if (absl::IsUnavailable(status)) code = 503;
  return Text(code, absl::StrCat(status.message(), "\n"));
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

absl::string_view TokenOf(const HttpRequest& request) {
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(request.authorization, kBearer)) return {};
  return absl::string_view(request.authorization).substr(kBearer.size());
}

std::string Argument(const HttpRequest& request, const std::string& name) {
  auto found = request.args.find(name);
  return found == request.args.end() ? std::string() : found->second;
}

}  // namespace

Monitoring::Monitoring(const TokenTable* tokens,
                       std::vector<std::string> allowed_hosts,
                       absl::Duration rate_interval)
    : tokens_(tokens),
      allowed_hosts_(std::move(allowed_hosts)),
      rpc_metrics_(ServedMethods()) {
  if (rate_interval <= absl::ZeroDuration()) return;
  SampleRates();
  sampler_ = std::thread([this, rate_interval] {
    MutexLock lock(&sampler_mu_);
    while (!sampler_mu_.AwaitFor([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                     sampler_mu_) { return sampler_stop_; },
                                 absl::ToChronoMicroseconds(rate_interval))) {
      SampleRates();
    }
  });
}

Monitoring::~Monitoring() {
  {
    MutexLock lock(&sampler_mu_);
    sampler_stop_ = true;
  }
  sampler_mu_.NotifyAll();
  if (sampler_.joinable()) sampler_.join();
}

void Monitoring::Describe(
    std::string server,
    std::vector<std::pair<std::string, std::string>> flags) {
  MutexLock lock(&mu_);
  server_ = std::move(server);
  flags_ = std::move(flags);
}

void Monitoring::Serving(Served served) {
  MutexLock lock(&mu_);
  state_ = State::kServing;
  served_ = std::move(served);
}

void Monitoring::Draining() {
  MutexLock lock(&mu_);
  state_ = State::kDraining;
  served_ = Served();
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
  if (std::optional<HttpResponse> foreign = ForeignHost(request)) {
    return *std::move(foreign);
  }
  if (request.path == "/") {
    HttpResponse page;
    page.content_type = "text/html; charset=utf-8";
    page.body = std::string(OperatorPageHtml());
    // The page runs only its own inline script and reads only this server.
    page.headers.emplace_back(
        "Content-Security-Policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src "
        "'unsafe-inline'; img-src 'self'; connect-src 'self'; form-action "
        "'self'; frame-ancestors 'none'");
    return page;
  }
  if (request.path == "/metrics" || request.path == "/api/stats") {
    if (std::optional<HttpResponse> refusal = Refusal(request)) {
      return *std::move(refusal);
    }
    return request.path == "/metrics" ? Metrics() : Stats();
  }
  if (request.path == "/api/scope" || request.path == "/api/variable") {
    // Any reader may ask; what it sees is filtered by name below.
    if (std::optional<HttpResponse> refusal = Refusal(request, {})) {
      return *std::move(refusal);
    }
    if (state_.load() != State::kServing) {
      return Text(503, "not serving: starting or draining\n");
    }
    return request.path == "/api/scope" ? Scope(request) : Variable(request);
  }
  return Text(404, absl::StrCat("Not found. Served here: /, /metrics, "
                                "/healthz, /readyz, /api/stats, /api/scope, "
                                "/api/variable.\n"));
}

std::optional<HttpResponse> Monitoring::Refusal(
    const HttpRequest& request, const std::vector<std::string>& names) const {
  if (tokens_ == nullptr) return std::nullopt;
  // "" stands for every name: a token limited to prefixes would see the
  // whole server's figures.
  const absl::Status allowed =
      tokens_->Authorize(TokenOf(request), Action::kRead, names);
  if (allowed.ok()) return std::nullopt;
  HttpResponse refused = Text(absl::IsUnauthenticated(allowed) ? 401 : 403,
                              absl::StrCat(allowed.message(), "\n"));
  if (refused.status == 401) {
    refused.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return refused;
}

std::optional<HttpResponse> Monitoring::ForeignHost(
    const HttpRequest& request) const {
  if (request.host.empty()) return std::nullopt;  // HTTP/1.0.
  absl::string_view host = request.host;
  if (absl::StartsWith(host, "[")) {
    host = host.substr(1, host.find(']') - 1);
  } else if (const size_t colon = host.find(':');
             colon != absl::string_view::npos &&
             host.find(':', colon + 1) == absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  const std::string name(host);
  in_addr v4;
  in6_addr v6;
  if (name == "localhost" || inet_pton(AF_INET, name.c_str(), &v4) == 1 ||
      inet_pton(AF_INET6, name.c_str(), &v6) == 1 ||
      std::find(allowed_hosts_.begin(), allowed_hosts_.end(), name) !=
          allowed_hosts_.end()) {
    return std::nullopt;
  }
  return Text(403, absl::StrCat("Host '", name,
                                "' is not a name this server answers to "
                                "(IP addresses, localhost, and "
                                "--http_allowed_hosts).\n"));
}

bool Monitoring::Visible(const HttpRequest& request,
                         absl::string_view name) const {
  return tokens_ == nullptr ||
         tokens_
             ->Authorize(TokenOf(request), Action::kRead, {std::string(name)})
             .ok();
}

HttpResponse Monitoring::Scope(const HttpRequest& request) {
  const std::string scope = Argument(request, "name");
  MutexLock lock(&mu_);
  if (served_.store == nullptr) return Text(503, "not serving\n");
  absl::StatusOr<std::vector<VariableStore::VariableStatus>> under =
      served_.store->DescribeVariables(scope);
  if (!under.ok()) return ApiError(under.status());
  return Json(ScopeJson(scope, *under, [&](absl::string_view name) {
    return Visible(request, name);
  }));
}

HttpResponse Monitoring::Variable(const HttpRequest& request) {
  const std::string name = Argument(request, "name");
  if (name.empty()) {
    return Text(400, "Give the variable's full name: /api/variable?name=...\n");
  }
  // A name the token does not reach is answered as a missing one, so that
  // a reader cannot learn which names exist outside its prefixes.
  const absl::Status missing =
      absl::NotFoundError(absl::StrCat("Variable ", name, " does not exist."));
  if (!Visible(request, name)) return ApiError(missing);
  MutexLock lock(&mu_);
  if (served_.store == nullptr) return Text(503, "not serving\n");
  absl::StatusOr<std::vector<VariableStore::VariableStatus>> described =
      served_.store->DescribeVariables(name);
  if (!described.ok()) return ApiError(described.status());
  absl::StatusOr<VariableSnapshot> value = served_.store->ReadVariable(name);
  if (!value.ok()) return ApiError(value.status());
  // The description and the value may be a version apart; the value's
  // version is the one shown.
  for (VariableStore::VariableStatus& status : *described) {
    if (status.info.name == name) status.info = value->info;
  }
  absl::StatusOr<std::string> json = VariableJson(
      name, *described,
      absl::string_view(value->value->data(), value->value->size()));
  if (!json.ok()) return ApiError(json.status());
  return Json(*std::move(json));
}

HttpResponse Monitoring::Metrics() {
  PrometheusText text;
  rpc_metrics_.AppendTo(text);
  text.Family("ps_http_requests_total", "counter",
              "Requests to this HTTP port, by path and status code.");
  for (int path = 0; path < kNumPaths; ++path) {
    for (int code = 0; code < kNumCodes; ++code) {
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
    if (served_.open_sessions) {
      text.Family("ps_sessions_open", "gauge", "Session streams open.");
      text.Sample("ps_sessions_open", {},
                  static_cast<double>(served_.open_sessions()));
    }
    if (served_.store != nullptr) {
      AppendStorePrometheus(ReadStoreFigures(*served_.store), text);
    }
    if (served_.durability != nullptr) {
      AppendDurabilityPrometheus(ReadDurabilityFigures(*served_.durability),
                                 text);
    }
  }
  text.Family("process_resident_memory_bytes", "gauge",
              "Resident memory size in bytes.");
  text.Sample("process_resident_memory_bytes", {}, ResidentBytes());
  text.Family("process_start_time_seconds", "gauge",
              "Start time of the process since the Unix epoch in seconds.");
  text.Sample("process_start_time_seconds", {}, UnixSeconds(started_));
  HttpResponse response;
  response.content_type = std::string(kPrometheusContentType);
  response.body = text.text();
  return response;
}

HttpResponse Monitoring::Stats() {
  const absl::Time now = absl::Now();
  JsonWriter json;
  json.BeginObject();
  MutexLock lock(&mu_);
  const State state = state_.load();
  json.Key("server")
      .String(server_)
      .Key("state")
      .String(state == State::kServing    ? "serving"
              : state == State::kStarting ? "starting"
                                          : "draining")
      .Key("now")
      .Double(UnixSeconds(now))
      .Key("started")
      .Double(UnixSeconds(started_))
      .Key("uptime_seconds")
      .Double(absl::ToDoubleSeconds(now - started_))
      .Key("process")
      .BeginObject()
      .Key("resident_bytes")
      .Double(ResidentBytes())
      .EndObject()
      .Key("rpc");
  rpc_metrics_.AppendJson(json, rates_.Read());
  json.Key("sessions_open")
      .Uint(served_.open_sessions ? served_.open_sessions() : 0);
  if (served_.store != nullptr) {
    AppendStoreJson(ReadStoreFigures(*served_.store), json);
  }
  if (served_.durability != nullptr) {
    AppendDurabilityJson(ReadDurabilityFigures(*served_.durability), json);
  }
  json.Key("flags").BeginObject();
  for (const auto& [name, value] : flags_) json.Key(name).String(value);
  json.EndObject().EndObject();
  return Json(json.text());
}

}  // namespace paramserver
