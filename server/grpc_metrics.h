#ifndef PARAM_SERVER_SERVER_GRPC_METRICS_H_
#define PARAM_SERVER_SERVER_GRPC_METRICS_H_
// The gRPC side of RpcMetrics: a server interceptor that counts each call
// when it begins, and its status code, latency and bytes sent when its
// status goes out.

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "server/rpc_metrics.h"

namespace paramserver {

// Records into `metrics`, which must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeMetricsInterceptorFactory(RpcMetrics* metrics);

// The methods a ps_server serves: its three services and gRPC's health
// service.
std::vector<std::string> ServedMethods();

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_METRICS_H_
