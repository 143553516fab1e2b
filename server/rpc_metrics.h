#ifndef PARAM_SERVER_SERVER_RPC_METRICS_H_
#define PARAM_SERVER_SERVER_RPC_METRICS_H_
// Calls by method and status code, their latency, bytes received and sent
// and calls in flight, in plain C++ (server/grpc_metrics.h feeds it from gRPC).
// The names follow go-grpc-prometheus, which operators' dashboards know:
// grpc_server_started_total, grpc_server_handled_total{grpc_code},
// grpc_server_handling_seconds, with grpc_service and grpc_method labels.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "common/json_writer.h"
#include "server/metrics.h"
#include "server/rate_window.h"

namespace paramserver {

class RpcMetrics {
 public:
  // One method's figures. Thread-safe.
  class Method {
   public:
    Method(std::string service, std::string name);
    void Started() { started_.fetch_add(1, std::memory_order_relaxed); }
    // `code`: a gRPC status code, 0 (OK) to 16.
    void Handled(int code, double seconds);
    void AddBytesSent(uint64_t bytes) {
      bytes_sent_.fetch_add(bytes, std::memory_order_relaxed);
    }
    void AddBytesReceived(uint64_t bytes) {
      bytes_received_.fetch_add(bytes, std::memory_order_relaxed);
    }

   private:
    friend class RpcMetrics;
    static constexpr int kCodes = 17;
    const std::string service_;
    const std::string name_;
    std::atomic<uint64_t> started_{0};
    std::atomic<uint64_t> handled_[kCodes] = {};
    std::atomic<uint64_t> bytes_sent_{0};
    std::atomic<uint64_t> bytes_received_{0};
    Histogram latency_;
  };

  // `full_names`: the methods served, as gRPC names them
  // ("/paramserver.rpc.ParameterServer/Pull"). Calls to any other name are
  // counted under grpc_service="unknown", grpc_method="unknown", so a
  // client cannot add label values.
  explicit RpcMetrics(const std::vector<std::string>& full_names);

  // Never null. The returned Method lives as long as this object.
  Method* Find(absl::string_view full_name);
  // What Find returns for a name not served.
  const Method* unknown() const { return &unknown_; }

  // A call began or ended (in flight = began - ended).
  void CallBegan() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void CallEnded() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  void AppendTo(PrometheusText& text) const;
  // The same figures as one JSON object: {"in_flight", "methods": [{
  // "service", "method", "started", "handled": {code name: count},
  // "bytes_sent", "bytes_received", "latency_seconds": {"count", "sum",
  // "p50", "p90", "p99"}}]}, methods never called left out.
  void AppendJson(
      JsonWriter& json,
      const std::optional<RateWindow::Rates>& rates = std::nullopt) const;

  // For a RateWindow: per method (in a fixed order), calls started, calls
  // that ended in an error, bytes received, bytes sent. With its rates,
  // AppendJson adds "per_second": {"calls", "errors", "received_bytes",
  // "sent_bytes"} to each method and "rate_seconds" (the window).
  std::vector<uint64_t> Totals() const;

 private:
  // Every method, then unknown_.
  std::vector<const Method*> All() const;

  // Immutable after construction, so lookups take no lock.
  std::vector<std::unique_ptr<Method>> methods_;
  absl::flat_hash_map<std::string, Method*> by_name_;
  Method unknown_{"unknown", "unknown"};
  std::atomic<int64_t> in_flight_{0};
};

// The full names of every method of the services this binary links, by
// service name ("paramserver.rpc.ParameterServer"), from protobuf's
// generated descriptors; unknown services are skipped.
std::vector<std::string> MethodsOfServices(
    const std::vector<std::string>& services);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_RPC_METRICS_H_
