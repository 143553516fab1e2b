#include "server/grpc_metrics.h"

#include <chrono>

namespace paramserver {
namespace {

using grpc::experimental::InterceptionHookPoints;

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(RpcMetrics* metrics, RpcMetrics::Method* method)
      : metrics_(metrics),
        method_(method),
        began_(std::chrono::steady_clock::now()) {
    metrics_->CallBegan();
    method_->Started();
  }

  // A call that ended without a status of its own (the client went away
  // first) counts as CANCELLED.
  ~MetricsInterceptor() override {
    if (!handled_) Handle(grpc::StatusCode::CANCELLED);
    metrics_->CallEnded();
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      if (const grpc::ByteBuffer* sent = methods->GetSerializedSendMessage();
          sent != nullptr) {
        method_->AddBytesSent(sent->Length());
      }
    }
    // Every method served here is registered raw (server/grpc_raw_call.h;
    // gRPC's default health service reads ByteBuffers too), so a received
    // message is a ByteBuffer. Unknown methods are answered without one.
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        method_ != metrics_->unknown()) {
      if (const auto* received =
              static_cast<const grpc::ByteBuffer*>(methods->GetRecvMessage());
          received != nullptr) {
        method_->AddBytesReceived(received->Length());
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS) &&
        !handled_) {
      Handle(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Handle(grpc::StatusCode code) {
    handled_ = true;
    const std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - began_;
    method_->Handled(static_cast<int>(code), elapsed.count());
  }

  RpcMetrics* const metrics_;
  RpcMetrics::Method* const method_;
  const std::chrono::steady_clock::time_point began_;
  // Interception of one call is serialised by gRPC.
  bool handled_ = false;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(RpcMetrics* metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, metrics_->Find(info->method()));
  }

 private:
  RpcMetrics* const metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeMetricsInterceptorFactory(RpcMetrics* metrics) {
  return std::make_unique<MetricsInterceptorFactory>(metrics);
}

std::vector<std::string> ServedMethods() {
  std::vector<std::string> methods =
      MethodsOfServices({"paramserver.rpc.ParameterServer",
                         "paramserver.rpc.ParameterServerSessions",
                         "paramserver.rpc.ParameterServerAdmin"});
  // gRPC's own health service, whose descriptor this binary may not link.
  methods.push_back("/grpc.health.v1.Health/Check");
  methods.push_back("/grpc.health.v1.Health/Watch");
  return methods;
}

}  // namespace paramserver
