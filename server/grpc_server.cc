#include "server/grpc_server.h"

#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace paramserver {

// Requests are small today; values only travel server to client, where
// gRPC has no default size limit.
constexpr int kMaxReceiveMessageBytes = 64 << 20;

GrpcServer::GrpcServer(ServerOptions options,
                       std::unique_ptr<VariableStore> store)
    : options_(std::move(options)),
      store_(std::move(store)),
      service_(store_.get()) {}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const ServerOptions& options) {
  absl::StatusOr<std::unique_ptr<VariableStore>> store =
      VariableStore::Create(options.store);
  if (!store.ok()) return store.status();
  std::unique_ptr<GrpcServer> server(
      new GrpcServer(options, *std::move(store)));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string address = absl::StrCat(options.address, ":", options.port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  // gRPC sets SO_REUSEPORT by default, which would let a second server
  // silently share a busy port; a clash must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("Could not listen on ", address,
                     " (address in use, or not an address of this host)."));
  }
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  return server;
}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

std::string GrpcServer::target() const {
  // IPv6 literals need brackets in a target.
  if (options_.address.find(':') != std::string::npos) {
    return absl::StrCat("[", options_.address, "]:", port_);
  }
  return absl::StrCat(options_.address, ":", port_);
}

void GrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

}  // namespace paramserver
