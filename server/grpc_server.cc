#include "server/grpc_server.h"

#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace paramserver {

// Large pushes come in chunks (PushChunks); unary requests stay below this.
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
  if (options.durability.has_value()) {
    absl::StatusOr<std::unique_ptr<Durability>> durability =
        Durability::Open(*options.durability, server->store_.get());
    if (!durability.ok()) return durability.status();
    server->durability_ = *std::move(durability);
  }
  server->admin_ = std::make_unique<AdminService>(server->durability_.get());

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
  // Transport settings for large values, as the client's (client/client.cc
  // says why and what each bought on pulls). For pushes the server is the
  // receiver: a fixed 8 MiB stream window, BDP probing off, took push SGD
  // 64 MB from 0.29 to 0.47-0.49 GB/s in two alternating A/B pairs.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, (1 << 24) - 1);
  builder.AddChannelArgument(GRPC_ARG_TCP_MIN_READ_CHUNK_SIZE, 256 << 10);
  builder.AddChannelArgument(GRPC_ARG_TCP_READ_CHUNK_SIZE, 1 << 20);
  builder.RegisterService(&server->service_);
  builder.RegisterService(server->admin_.get());
  builder.RegisterService(server->service_.sessions());
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

absl::StatusOr<int64_t> GrpcServer::Checkpoint() {
  if (durability_ == nullptr) {
    return absl::FailedPreconditionError("No data directory is configured.");
  }
  return durability_->Checkpoint();
}

void GrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  service_.sessions()->CancelAll();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

}  // namespace paramserver
