#include "server/rpc_metrics.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"

namespace paramserver {
namespace {

// gRPC's names of its status codes, by number.
constexpr absl::string_view kCodeNames[] = {
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
};

}  // namespace

RpcMetrics::Method::Method(std::string service, std::string name)
    : service_(std::move(service)),
      name_(std::move(name)),
      latency_(LatencyBucketsSeconds()) {}

void RpcMetrics::Method::Handled(int code, double seconds) {
  if (code < 0 || code >= kCodes) code = 2;  // UNKNOWN.
  handled_[code].fetch_add(1, std::memory_order_relaxed);
  latency_.Observe(seconds);
}

RpcMetrics::RpcMetrics(const std::vector<std::string>& full_names) {
  for (const std::string& full_name : full_names) {
    // "/service/method".
    const size_t slash = full_name.rfind('/');
    if (full_name.empty() || full_name[0] != '/' || slash == 0 ||
        slash == std::string::npos) {
      continue;
    }
    methods_.push_back(std::make_unique<Method>(full_name.substr(1, slash - 1),
                                                full_name.substr(slash + 1)));
    by_name_[full_name] = methods_.back().get();
  }
}

RpcMetrics::Method* RpcMetrics::Find(absl::string_view full_name) {
  auto found = by_name_.find(full_name);
  return found == by_name_.end() ? &unknown_ : found->second;
}

void RpcMetrics::AppendTo(PrometheusText& text) const {
  const std::vector<const Method*> all = All();
  auto labels = [](const Method& method) {
    return MetricLabels{{"grpc_service", method.service_},
                        {"grpc_method", method.name_}};
  };
  text.Family("grpc_server_started_total", "counter",
              "Calls the server began, by method.");
  for (const Method* method : all) {
    text.Sample("grpc_server_started_total", labels(*method),
                static_cast<double>(method->started_.load()));
  }
  text.Family("grpc_server_handled_total", "counter",
              "Calls the server answered, by method and status code.");
  for (const Method* method : all) {
    for (int code = 0; code < Method::kCodes; ++code) {
      const uint64_t count = method->handled_[code].load();
      // Codes a method never returned are left out, as go-grpc-prometheus
      // does for label sets it has not seen; OK is always there.
      if (count == 0 && code != 0) continue;
      MetricLabels with_code = labels(*method);
      with_code.emplace_back("grpc_code", std::string(kCodeNames[code]));
      text.Sample("grpc_server_handled_total", with_code,
                  static_cast<double>(count));
    }
  }
  text.Family("grpc_server_handling_seconds", "histogram",
              "Time from a call's start to its status, by method.");
  for (const Method* method : all) {
    text.HistogramSamples("grpc_server_handling_seconds", labels(*method),
                          method->latency_);
  }
  text.Family("grpc_server_msg_sent_bytes_total", "counter",
              "Bytes of response messages sent, serialized, by method.");
  for (const Method* method : all) {
    text.Sample("grpc_server_msg_sent_bytes_total", labels(*method),
                static_cast<double>(method->bytes_sent_.load()));
  }
  text.Family("grpc_server_msg_received_bytes_total", "counter",
              "Bytes of request messages received, serialized, by method.");
  for (const Method* method : all) {
    text.Sample("grpc_server_msg_received_bytes_total", labels(*method),
                static_cast<double>(method->bytes_received_.load()));
  }
  text.Family("grpc_server_calls_in_flight", "gauge",
              "Calls begun and not yet ended.");
  text.Sample("grpc_server_calls_in_flight", {},
              static_cast<double>(in_flight_.load()));
}

std::vector<const RpcMetrics::Method*> RpcMetrics::All() const {
  std::vector<const Method*> all;
  for (const auto& method : methods_) all.push_back(method.get());
  all.push_back(&unknown_);
  return all;
}

std::vector<uint64_t> RpcMetrics::Totals() const {
  std::vector<uint64_t> totals;
  for (const Method* method : All()) {
    uint64_t errors = 0;
    for (int code = 1; code < Method::kCodes; ++code) {
      errors += method->handled_[code].load();
    }
    totals.insert(totals.end(),
                  {method->started_.load(), errors,
                   method->bytes_received_.load(), method->bytes_sent_.load()});
  }
  return totals;
}

void RpcMetrics::AppendJson(
    JsonWriter& json, const std::optional<RateWindow::Rates>& rates) const {
  const std::vector<const Method*> all = All();
  const bool with_rates =
      rates.has_value() && rates->per_second.size() == 4 * all.size();
  json.BeginObject().Key("in_flight").Int(in_flight_.load());
  if (with_rates) json.Key("rate_seconds").Double(rates->seconds);
  json.Key("methods").BeginArray();
  for (size_t index = 0; index < all.size(); ++index) {
    const Method* method = all[index];
    const uint64_t started = method->started_.load();
    if (started == 0) continue;
    json.BeginObject()
        .Key("service")
        .String(method->service_)
        .Key("method")
        .String(method->name_)
        .Key("started")
        .Uint(started)
        .Key("handled")
        .BeginObject();
    for (int code = 0; code < Method::kCodes; ++code) {
      const uint64_t count = method->handled_[code].load();
      if (count == 0 && code != 0) continue;
      json.Key(kCodeNames[code]).Uint(count);
    }
    json.EndObject()
        .Key("bytes_sent")
        .Uint(method->bytes_sent_.load())
        .Key("bytes_received")
        .Uint(method->bytes_received_.load());
    const Histogram::Snapshot latency = method->latency_.Read();
    const std::vector<double>& bounds = method->latency_.upper_bounds();
    json.Key("latency_seconds")
        .BeginObject()
        .Key("count")
        .Uint(latency.count)
        .Key("sum")
        .Double(latency.sum);
    for (const auto& [key, q] : {std::pair<const char*, double>{"p50", 0.5},
                                 {"p90", 0.9},
                                 {"p99", 0.99}}) {
      json.Key(key).Double(HistogramQuantile(bounds, latency, q));
    }
    json.EndObject();
    if (with_rates) {
      const double* per_second = &rates->per_second[4 * index];
      json.Key("per_second")
          .BeginObject()
          .Key("calls")
          .Double(per_second[0])
          .Key("errors")
          .Double(per_second[1])
          .Key("received_bytes")
          .Double(per_second[2])
          .Key("sent_bytes")
          .Double(per_second[3])
          .EndObject();
    }
    json.EndObject();
  }
  json.EndArray().EndObject();
}

std::vector<std::string> MethodsOfServices(
    const std::vector<std::string>& services) {
  std::vector<std::string> names;
  const google::protobuf::DescriptorPool* pool =
      google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& service_name : services) {
    const google::protobuf::ServiceDescriptor* service =
        pool->FindServiceByName(service_name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      names.push_back(
          absl::StrCat("/", service_name, "/", service->method(i)->name()));
    }
  }
  return names;
}

}  // namespace paramserver
