#include "server/grpc_server.h"

#include <arpa/inet.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/random_id.h"
#include "server/durability/data_dir_identity.h"
#include "server/grpc_metrics.h"
#include "wire/channel_settings.h"

namespace paramserver {

GrpcServer::GrpcServer(ServerOptions options, ServerIdentity identity,
                       std::unique_ptr<Durability> durability,
                       std::unique_ptr<VariableStore> store)
    : options_(std::move(options)),
      durability_(std::move(durability)),
      store_(std::move(store)),
      service_(store_.get(), tokens(), options_.stream_idle_limit,
               options_.stream_min_bytes_per_second, std::move(identity),
               options_.push_buffer_pool_bytes) {}

namespace {

absl::Status CheckTransportPolicy(const ServerOptions& options) {
  if (options.tls.has_value() || options.allow_insecure_remote ||
      IsLoopbackAddress(options.address)) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "Refusing to listen on ", options.address,
      " without TLS: variables and tokens would cross the network in the "
      "clear. Give a certificate and key (--tls_cert, --tls_key), listen on "
      "a loopback address, or pass --insecure to accept plaintext."));
}

// TLS whose certificates gRPC re-reads from their files (rotation).
std::shared_ptr<grpc::ServerCredentials> MakeReloadingTlsCredentials(
    const ServerTlsOptions& tls) {
  namespace exp = grpc::experimental;
  auto provider = std::make_shared<exp::FileWatcherCertificateProvider>(
      tls.private_key_path, tls.cert_chain_path, tls.client_ca_path,
      static_cast<unsigned int>(tls.reload_seconds));
  exp::TlsServerCredentialsOptions credentials(provider);
  credentials.watch_identity_key_cert_pairs();
  if (tls.client_ca_path.empty()) {
    credentials.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    credentials.watch_root_certs();
    credentials.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return exp::TlsServerCredentials(credentials);
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const ServerOptions& options) {
  if (!options.tls.has_value()) return grpc::InsecureServerCredentials();
  if (options.tls->reload_seconds > 0) {
    return MakeReloadingTlsCredentials(*options.tls);
  }
  grpc::SslServerCredentialsOptions ssl(
      options.tls->client_ca.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = options.tls->client_ca;
  ssl.pem_key_cert_pairs.push_back(
      {options.tls->private_key, options.tls->cert_chain});
  return grpc::SslServerCredentials(ssl);
}

// Server reflection on one builder, or off. Linking gRPC's reflection
// library registers its plugin for every server the process builds (a static
// initializer), so "off" has to take it out again.
class ReflectionOption final : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    auto reflection =
        std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>();
    const std::string name = reflection->name();
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [&](const auto& plugin) {
                                    return plugin->name() == name;
                                  }),
                   plugins->end());
    if (enabled_) plugins->push_back(std::move(reflection));
  }

 private:
  const bool enabled_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const ServerOptions& options) {
  if (absl::Status s = CheckTransportPolicy(options); !s.ok()) return s;
  if (absl::Status s = ValidateShardPlace(options.place); !s.ok()) return s;
  ServerIdentity identity{options.place, NewRandomId()};
  std::unique_ptr<Durability> durability;
  std::unique_ptr<VariableStore> store;
  if (options.durability.has_value()) {
    absl::StatusOr<DataDirIdentity> claimed =
        ClaimDataDir(options.durability->data_dir, options.place,
                     options.initialize_data_dir);
    if (!claimed.ok()) return claimed.status();
    identity.incarnation = claimed->incarnation;
    identity.cluster = claimed->cluster;
    identity.data_dir = options.durability->data_dir;
    absl::StatusOr<std::unique_ptr<Durability>> opened =
        Durability::Open(*options.durability, options.store, &store);
    if (!opened.ok()) return opened.status();
    durability = *std::move(opened);
  } else {
    absl::StatusOr<std::unique_ptr<VariableStore>> created =
        VariableStore::Create(options.store);
    if (!created.ok()) return created.status();
    store = *std::move(created);
  }
  std::unique_ptr<GrpcServer> server(new GrpcServer(
      options, std::move(identity), std::move(durability), std::move(store)));
  server->admin_ = std::make_unique<AdminService>(server->durability_.get(),
                                                  server->tokens());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.SetOption(std::make_unique<ReflectionOption>(options.reflection));
  const std::string address = absl::StrCat(options.address, ":", options.port);
  builder.AddListeningPort(address, MakeServerCredentials(options),
                           &server->port_);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  // gRPC sets SO_REUSEPORT by default, which would let a second server
  // silently share a busy port; a clash must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Transport settings for large values, as the client's (client/client.cc
  // says why and what each bought on pulls). For pushes the server is the
  // receiver: a fixed 8 MiB stream window, BDP probing off, took push SGD
  // 64 MB from 0.29 to 0.47-0.49 GB/s in two alternating A/B pairs.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
                             kStreamWindowBytes);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, kMaxFrameBytes);
  builder.AddChannelArgument(GRPC_ARG_TCP_MIN_READ_CHUNK_SIZE,
                             kTcpMinReadChunkBytes);
  builder.AddChannelArgument(GRPC_ARG_TCP_READ_CHUNK_SIZE, kTcpReadChunkBytes);
  // Keepalive. Clients ping every 20 s while a call (a pooled session
  // stream, say) is open, and not more often than every 5 s
  // (client/client.h). gRPC servers by default allow one ping per 5 minutes
  // while they send no data, and after two early pings close the connection
  // with GOAWAY "too_many_pings", which would cut idle workers off every
  // few minutes. Measured with an idle client pinging every 5 s (acks read
  // every 5 s more, so a ping each 10 s): GOAWAY after the 5th ping without
  // this setting, none in 60 s with it. The server itself pings clients
  // after 60 s of silence and drops connections that do not answer within
  // 20 s, so a worker machine that vanished does not hold its streams open
  // for hours.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      kMinPingIntervalMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             kServerKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             kServerKeepaliveTimeoutMs);
  if (options.rpc_metrics != nullptr) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(MakeMetricsInterceptorFactory(options.rpc_metrics));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  builder.RegisterService(&server->service_);
  builder.RegisterService(server->admin_.get());
  builder.RegisterService(server->service_.sessions());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("Could not listen on ", address,
                     " (address in use, not an address of this host, or an "
                     "unusable TLS certificate or key)."));
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
