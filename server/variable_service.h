#ifndef PARAM_SERVER_SERVER_VARIABLE_SERVICE_H_
#define PARAM_SERVER_SERVER_VARIABLE_SERVICE_H_

// The parameter server's methods in plain C++ (no gRPC types), as tf.data
// service's dispatcher_impl is to its grpc_dispatcher_impl: one method per
// RPC takes the parsed request and the Caller, checks the caller's access,
// asks the store and fills the response. The gRPC adapters
// (server/grpc_service.h, server/grpc_chunk_streams.h,
// server/grpc_session.h) only parse bytes, encode responses and run
// streams; the unary methods and the session stream share these handlers.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/row_limits.h"
#include "common/shard_place.h"
#include "proto/parameter_server.pb.h"
#include "server/caller.h"
#include "server/cluster_membership.h"
#include "server/variable_store.h"

namespace paramserver {

// Who this server is: its place in its job and the incarnation of its data
// (server/durability/data_dir_identity.h; without a data directory, one per
// process).
struct ServerIdentity {
  ShardPlace place;
  std::string incarnation;
  std::string cluster;   // Joined; "" before (server/cluster_membership.h).
  std::string data_dir;  // Where IDENTITY lives; "" in memory only.
};

// Most ids one GatherRows call may ask for (32 MB of ids in memory).
inline constexpr int kMaxGatherIds = static_cast<int>(kMaxRowIdsPerCall);

// Every method returns the first error: the caller's (UNAUTHENTICATED,
// PERMISSION_DENIED; see Caller::Authorize; FAILED_PRECONDITION when the
// caller expects this server at another place in its job), then the
// request's and the store's (see VariableStore). Thread-safe; the store must
// outlive it.
class VariableService {
 public:
  explicit VariableService(VariableStore* store, ServerIdentity identity = {})
      : store_(store),
        identity_(identity),
        membership_(identity.data_dir,
                    {identity.place, identity.incarnation, identity.cluster}) {}

  const ServerIdentity& identity() const { return identity_; }

  // Caller::Authorize, then the place the caller expects of this server
  // (CheckShardPlace; INVALID_ARGUMENT when its metadata did not parse).
  // Every method below starts with it; the adapters call it before parsing.
  absl::Status Admit(const Caller& caller, Action action,
                     absl::Span<const std::string> names) const;

  // This server's place, incarnation, cluster and variable count; any valid
  // caller may ask (Action::kRead of nothing).
  absl::Status GetServerInfo(const Caller& caller,
                             const rpc::ServerInfoRequest& request,
                             rpc::ServerInfoResponse* response);

  // ClusterMembership::Join; a writer may ask (Action::kCreate of nothing).
  absl::Status JoinCluster(const Caller& caller,
                           const rpc::JoinClusterRequest& request,
                           rpc::JoinClusterResponse* response);

  // tf.get_variable. Reads (Action::kRead) when it only reuses
  // (reuse=REUSE), may create (Action::kCreate) otherwise; the name it
  // touches is scope/name. Logs each creation.
  absl::Status GetVariable(const Caller& caller,
                           const rpc::GetVariableRequest& request,
                           rpc::GetVariableResponse* response);
  // VariableStore::GetTable: creating (CREATE, AUTO_REUSE) needs
  // Action::kCreate on the name, reusing Action::kRead.
  absl::Status GetTable(const Caller& caller,
                        const rpc::GetTableRequest& request,
                        rpc::GetTableResponse* response);
  // VariableStore::GetTableInfo, reading the table.
  absl::Status GetTableStats(const Caller& caller,
                             const rpc::TableStatsRequest& request,
                             rpc::GetTableResponse* response);

  absl::Status ReadVariable(const Caller& caller,
                            const rpc::ReadVariableRequest& request,
                            rpc::ReadVariableResponse* response);

  // Reading the prefix ("" is the whole store) is what is checked.
  absl::Status ListVariables(const Caller& caller,
                             const rpc::ListVariablesRequest& request,
                             rpc::ListVariablesResponse* response);

  // Deletes a variable or a scope (INVALID_ARGUMENT when the request names
  // neither); an unset target checks access to "" (the whole store). Logs
  // each deletion.
  absl::Status DeleteVariables(const Caller& caller,
                               const rpc::DeleteVariablesRequest& request,
                               rpc::DeleteVariablesResponse* response);

  // VariableStore::GatherRows, reading (Action::kRead) the variable; more
  // than kMaxGatherIds ids are INVALID_ARGUMENT before anything is read. The
  // adapter encodes the rows (server/grpc_zero_copy.h).
  absl::StatusOr<VariableStore::GatherResult> GatherRows(
      const Caller& caller, const rpc::GatherRowsRequest& request);
  // What a Pull answers; the adapter encodes it (server/grpc_zero_copy.h).
  struct PullReply {
    std::vector<VariableStore::PullResult> results;
    // Values up to this many bytes go inline; larger ones are streamed.
    int64_t max_inline_bytes = 0;
  };

  // Reads every item's variable. Takes the request by value: its names move
  // into the store's call.
  absl::StatusOr<PullReply> Pull(const Caller& caller,
                                 rpc::PullRequest request);

  // PullChunks: one snapshot of one variable, which the adapter streams.
  absl::StatusOr<VariableStore::PullResult> PullChunks(
      const Caller& caller, const rpc::PullChunksRequest& request);

  // Applies a push (see VariableStore::Push). The update count is checked
  // before anything is done per update, then writing (Action::kWrite) every
  // variable the updates name. PushChunks applies its gathered request
  // through here too.
  absl::Status Push(const Caller& caller, const rpc::PushRequest& request,
                    rpc::PushResponse* response);

  // VariableStore::LookupSparse, reading (Action::kRead) the variable; more
  // than kMaxGatherIds ids are INVALID_ARGUMENT before anything is read.
  absl::StatusOr<VariableStore::GatherResult> LookupSparse(
      const Caller& caller, const rpc::LookupSparseRequest& request);

  // VariableStore::PushRows, writing (Action::kWrite) the variable; more
  // than kMaxGatherIds ids are INVALID_ARGUMENT before anything is done.
  absl::Status PushRows(const Caller& caller,
                        const rpc::PushRowsRequest& request,
                        rpc::PushRowsResponse* response);

  // What a PushChunks stream holds once its first chunk is taken.
  struct ChunkedPush {
    std::vector<size_t> value_bytes;  // Each update's size, in request order.
    VariableStore::Reservation reservation;  // Memory for all of them.
  };

  // The first chunk of a PushChunks stream: `request` (whose values may be
  // empty or partial) is checked whole, as Push would check it, before any
  // value is buffered: the update count, access, repeated names, that every
  // variable exists, kinds against dtypes, the optimizer, that no value
  // already holds more than its variable's size (CheckValueRoom); then the
  // sum of the sizes is reserved against the store's total limit
  // (RESOURCE_EXHAUSTED when it does not fit).
  absl::StatusOr<ChunkedPush> StartChunkedPush(const Caller& caller,
                                               const rpc::PushRequest& request);

 private:
  VariableStore* const store_;
  const ServerIdentity identity_;  // Its cluster as at start.
  ClusterMembership membership_;
};

// INVALID_ARGUMENT, naming the update, unless update `index` of `request`,
// holding what it holds, has room for `more` bytes of a value of `expected`
// bytes.
absl::Status CheckValueRoom(const rpc::PushRequest& request, int index,
                            size_t expected, size_t more);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_VARIABLE_SERVICE_H_
