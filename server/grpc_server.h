#ifndef PARAM_SERVER_SERVER_GRPC_SERVER_H_
#define PARAM_SERVER_SERVER_GRPC_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/loopback.h"
#include "server/admin_service.h"
#include "server/auth.h"
#include "server/durability/durability.h"
#include "server/grpc_service.h"
#include "server/rpc_metrics.h"
#include "server/variable_store.h"

namespace paramserver {

// TLS for every connection; PEM contents, not paths.
struct ServerTlsOptions {
  std::string cert_chain;
  std::string private_key;
  // Non-empty: mutual TLS. Clients must present a certificate signed by one
  // of these CAs, or the handshake fails.
  std::string client_ca;
  // Certificate rotation: when > 0, the files below are served instead of
  // the contents above; gRPC re-reads them when they change (checked every
  // this many seconds) and new connections get what they then hold (open
  // ones keep theirs). Replace certificate and key together (switch a
  // directory symlink, as Kubernetes secret volumes do): gRPC does not check
  // that a new key matches a new certificate, and handshakes fail while they
  // disagree. The contents above are still read, to check the files at start.
  int reload_seconds = 0;
  std::string cert_chain_path;
  std::string private_key_path;
  std::string client_ca_path;  // Empty without mutual TLS.
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 2222;  // 0 picks a free port; port() tells which.
  StoreOptions store;
  // Where this server stands in its job (common/shard_place.h). With a data
  // directory it must be the place the directory was made for.
  ShardPlace place;
  // Without it the variables live in memory only.
  std::optional<DurabilityOptions> durability;
  // Lets Start begin with a data directory that holds no data (missing or
  // empty), as on a shard's first start; without it Start refuses one
  // (ClaimDataDir), since a shard that served before has then lost its data.
  bool initialize_data_dir = false;
  // Without it connections are plaintext, which Start only allows on a
  // loopback address unless allow_insecure_remote is set.
  std::optional<ServerTlsOptions> tls;
  bool allow_insecure_remote = false;
  // Without it every call is allowed; with it each call needs a token of
  // the table (server/auth.h), except the health service's and reflection's.
  std::optional<TokenTable> tokens;
  // PushChunks and PullChunks streams that make no progress for this long
  // are cancelled (StreamWatchdog); infinite turns that off.
  absl::Duration stream_idle_limit = absl::Seconds(60);
  // ... and those that, past their first stream_idle_limit, average fewer
  // bytes per second than this over their life (0: no floor).
  int64_t stream_min_bytes_per_second = int64_t{1} << 20;
  // Bytes of PushChunks buffers kept from one push for the next
  // (server/push_buffer_pool.h); 0 keeps none.
  int64_t push_buffer_pool_bytes = kDefaultPushBufferPoolBytes;
  // gRPC server reflection (grpc.reflection.v1alpha), for grpcurl without
  // the .proto. Off unless asked for: it cannot check tokens, and it hands
  // anyone who connects the whole schema, admin methods included.
  bool reflection = false;
  // Non-null: every call is counted there (server/grpc_metrics.h). Must
  // outlive the server.
  RpcMetrics* rpc_metrics = nullptr;
};

// A running parameter server: the store, its gRPC service, the standard
// health service (grpc.health.v1.Health, overall status "") and, when asked
// for, server reflection.
//
// Lifecycle:   Start() --> serving --Shutdown()--> draining --> stopped
// While draining, health reports NOT_SERVING, new calls are refused and
// in-flight calls run to completion (or are cancelled at the deadline).
class GrpcServer {
 public:
  // Restores the variables first when durability is configured (its errors
  // are returned: DATA_LOSS for damage the options do not allow skipping;
  // FAILED_PRECONDITION for a data directory of another place, or one that
  // holds no data without initialize_data_dir). INVALID_ARGUMENT for an
  // impossible place.
  // FAILED_PRECONDITION for plaintext on a non-loopback address without
  // allow_insecure_remote. UNAVAILABLE when the address cannot be bound (or
  // the TLS key and certificate are unusable).
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const ServerOptions& options);
  ~GrpcServer();  // Shuts down, if Shutdown was not called.

  int port() const { return port_; }
  // "address:port", what clients connect to.
  std::string target() const;
  VariableStore& store() { return *store_; }
  // Null without a data directory.
  const Durability* durability() const { return durability_.get(); }
  const ServerIdentity& identity() const { return service_.identity(); }
  // Session streams open now.
  size_t open_sessions() const { return service_.sessions().open_sessions(); }

  // Idempotent; returns once every call has finished.
  void Shutdown(absl::Duration grace);

  // Writes a checkpoint (see Durability::Checkpoint); FAILED_PRECONDITION
  // without durability.
  absl::StatusOr<int64_t> Checkpoint();

 private:
  GrpcServer(ServerOptions options, ServerIdentity identity,
             std::unique_ptr<Durability> durability,
             std::unique_ptr<VariableStore> store);
  // Null when authentication is off.
  const TokenTable* tokens() const {
    return options_.tokens.has_value() ? &*options_.tokens : nullptr;
  }

  const ServerOptions options_;
  // Null without a data directory. Before store_: the store logs to it.
  const std::unique_ptr<Durability> durability_;
  const std::unique_ptr<VariableStore> store_;
  std::unique_ptr<AdminService> admin_;
  ParameterServerService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_SERVER_H_
