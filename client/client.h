#ifndef PARAM_SERVER_CLIENT_CLIENT_H_
#define PARAM_SERVER_CLIENT_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/value_sink.h"
#include "client/variable_client.h"
#include "common/shard_place.h"
#include "common/update_spec.h"
#include "common/variable_spec.h"
#include "wire/channel_settings.h"

namespace paramserver {

class ParameterServerStub;  // Hides the generated gRPC types from users.

// TLS to the server; PEM contents (LoadClientTls reads them from files).
struct ClientTlsOptions {
  std::string root_certs;   // CAs the server's certificate must chain to;
                            // "" uses gRPC's default roots.
  std::string cert_chain;   // For mutual TLS; "" presents no certificate.
  std::string private_key;  // Of cert_chain.
};

// Reads the PEM files; an empty path leaves its field empty.
// INVALID_ARGUMENT for a certificate without its key or the reverse.
absl::StatusOr<ClientTlsOptions> LoadClientTls(const std::string& ca_path,
                                               const std::string& cert_path,
                                               const std::string& key_path);

struct ClientOptions {
  // Per-call deadline. Calls that exceed it return DEADLINE_EXCEEDED.
  absl::Duration timeout = absl::Seconds(30);
  // HTTP/2 keepalive while calls are open: after `keepalive_time` without
  // traffic the client pings the server, and when no answer comes within
  // `keepalive_timeout` it drops the connection, so calls on a server that
  // froze, or across a network that lost the connection without a reset,
  // fail UNAVAILABLE (and can be retried on a new connection) instead of
  // waiting out their deadline. Floors: 5 s for the time (ps_server closes
  // connections that ping more often, as gRPC servers do) and 10 s for the
  // timeout (an otherwise idle client reads the answer only when gRPC's
  // backup poller runs, every 5 s). absl::InfiniteDuration() turns pings off.
  absl::Duration keepalive_time = absl::Seconds(20);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  // Unset: plaintext. A TLS client cannot talk to a plaintext server, nor
  // the reverse (UNAVAILABLE).
  std::optional<ClientTlsOptions> tls;
  // Sent as "authorization: Bearer <token>" on every call when non-empty.
  // A server with tokens answers UNAUTHENTICATED without one.
  std::string token;
  // The place in its job the server must hold (common/shard_place.h), sent
  // with every call; a server elsewhere answers FAILED_PRECONDITION and does
  // nothing. ShardedClient sets it for each of its servers.
  std::optional<ShardPlace> expected_place;
  // ShardedClient: the job its servers must belong to; empty does not check
  // the job (only each server's index and the count).
  std::string job;
};

// TLS and token as the command-line tools take them (psctl, the training
// worker): TLS when any of the three paths is given (LoadClientTls), and
// `token`, or the PS_TOKEN environment variable when it is empty.
absl::Status SetTlsAndToken(const std::string& ca_path,
                            const std::string& cert_path,
                            const std::string& key_path,
                            const std::string& token, ClientOptions& options);

// A connection to one parameter server. Thread-safe: one client can serve
// every thread of a worker. Every error is the server's status (code and
// TensorFlow-worded message) or the transport's (UNAVAILABLE, ...).
class ParameterServerClient final : public VariableClient {
 public:
  // `target` is "host:port". Does not wait for the server to be reachable.
  static absl::StatusOr<std::unique_ptr<ParameterServerClient>> Connect(
      absl::string_view target, const ClientOptions& options = {});
  ~ParameterServerClient() override;

  using VariableClient::GetVariable;
  absl::StatusOr<FetchedVariable> GetVariable(const VariableRequest& request,
                                              bool return_value) override;
  absl::StatusOr<FetchedVariable> ReadVariable(
      absl::string_view full_name) override;
  absl::StatusOr<GatheredRows> GatherRows(
      absl::string_view full_name, absl::Span<const int64_t> ids) override;
  absl::StatusOr<GatheredRows> PeekRows(absl::string_view full_name,
                                        absl::Span<const int64_t> ids) override;
  absl::StatusOr<VariableInfo> PushRows(const RowUpdateSpec& push) override;
  absl::StatusOr<TableStatus> GetTable(const TableRequest& request) override;
  absl::StatusOr<TableStatus> GetTableStats(absl::string_view name) override;
  absl::StatusOr<GatheredRows> LookupSparse(absl::string_view full_name,
                                            absl::Span<const int64_t> ids,
                                            const BagSpec& bags) override;
  absl::StatusOr<std::vector<VariableInfo>> ListVariables(
      absl::string_view prefix) override;
  absl::StatusOr<std::vector<std::string>> DeleteVariable(
      absl::string_view full_name) override;
  absl::StatusOr<std::vector<std::string>> DeleteScope(
      absl::string_view scope) override;

  // Values up to kInlineBytes come in the reply; larger ones are streamed in
  // chunks, each from one version.
  absl::StatusOr<std::vector<PulledValue>> Pull(
      absl::Span<const PullItemSpec> items) override;
  // Receives each value straight from gRPC's buffers into the caller's.
  absl::StatusOr<std::vector<PulledInto>> PullInto(
      absl::Span<const PullIntoItem> items) override;

  // All or nothing (see VariableStore::Push for the errors). Requests whose
  // values exceed kInlineBytes in total are streamed in chunks sent from the
  // caller's memory, lent to gRPC: Push returns once gRPC has let go of it,
  // which after a connection breaks can be up to keepalive_timeout after the
  // call has failed.
  absl::StatusOr<std::vector<VariableInfo>> Push(const PushSpec& push) override;

  absl::StatusOr<ServerInfo> GetServerInfo() override;
  absl::StatusOr<std::string> JoinCluster(absl::string_view cluster) override;

  static constexpr int64_t kInlineBytes = kClientInlineBytes;
  static constexpr int64_t kChunkBytes = kDefaultChunkBytes;

  const std::string& target() const { return target_; }

 private:
  // GatherRows (kLookup) and PeekRows (kPeek).
  absl::StatusOr<GatheredRows> ReadRows(absl::string_view full_name,
                                        absl::Span<const int64_t> ids,
                                        TableRead read);
  // Pull and PullInto: each changed value's bytes go to sink_for(its index).
  absl::StatusOr<std::vector<PulledInto>> PullToSinks(
      absl::Span<const PullItemSpec> items,
      absl::FunctionRef<ValueSink(size_t)> sink_for);
  // One value too large to come inline; `info` becomes the stream's.
  absl::Status PullStreamed(VariableInfo& info, ValueSink& sink);
  absl::StatusOr<std::vector<VariableInfo>> PushStreamed(const PushSpec& push);

  ParameterServerClient(std::string target, ClientOptions options,
                        std::unique_ptr<ParameterServerStub> stub);

  const std::string target_;
  const ClientOptions options_;
  const std::unique_ptr<ParameterServerStub> stub_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_CLIENT_H_
