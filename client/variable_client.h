#ifndef PARAM_SERVER_CLIENT_VARIABLE_CLIENT_H_
#define PARAM_SERVER_CLIENT_VARIABLE_CLIENT_H_

// What a worker needs from the parameter servers, whether one
// (ParameterServerClient) or several sharded ones (ShardedClient). Code
// written against VariableClient runs unchanged on either.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/random_id.h"
#include "common/shard_place.h"
#include "common/table_spec.h"
#include "common/update_spec.h"
#include "common/variable_spec.h"

namespace paramserver {

// A variable as fetched from the server.
struct FetchedVariable {
  VariableInfo info;
  bool created = false;  // True for exactly one caller per variable.
  std::string value;     // Raw little-endian bytes, when asked for.
};

// Rows of one variable from GatherRows.
struct GatheredRows {
  VariableInfo info;  // The version every row was read at.
  std::string rows;   // One row per id, in the ids' order; raw bytes.
};

// One variable's value from Pull.
struct PulledValue {
  VariableInfo info;
  bool unchanged = false;  // The caller's known_version is current: no value.
  std::string value;       // Raw little-endian bytes otherwise.
};

// One variable for PullInto: its value goes into `buffer`, memory the
// caller owns (and can reuse every step), which must have exactly the
// value's byte size.
struct PullIntoItem {
  std::string name;
  int64_t known_version = 0;  // 0: always fill the buffer.
  absl::Span<char> buffer;
};

// One variable from PullInto; its value went into the item's buffer.
struct PulledInto {
  VariableInfo info;
  bool unchanged = false;  // known_version is current: buffer not touched.
};

// A server's place in its job and the incarnation of its data (which
// changes when the server starts anew without what it held).
struct ServerInfo {
  ShardPlace place;
  std::string incarnation;
  int64_t num_variables = 0;
  std::string cluster;  // The cluster it joined; "" before.
};

// A fresh push id: 128 random bits as 32 hex digits.
inline std::string NewPushId() { return NewRandomId(); }

// Implementations are thread-safe. Every error is a server's status (code and
// TensorFlow-worded message) or the transport's (UNAVAILABLE, ...).
class VariableClient {
 public:
  virtual ~VariableClient() = default;

  // tf.get_variable. The value is filled only when `return_value` is true.
  virtual absl::StatusOr<FetchedVariable> GetVariable(
      const VariableRequest& request, bool return_value) = 0;
  absl::StatusOr<FetchedVariable> GetVariable(const VariableRequest& request) {
    return GetVariable(request, /*return_value=*/false);
  }

  // NOT_FOUND when no variable has this full name.
  virtual absl::StatusOr<FetchedVariable> ReadVariable(
      absl::string_view full_name) = 0;

  // tf.gather on the first dimension: the rows `ids` of the variable
  // `full_name` (rank 1 or more; a row of a [d0, d1, d2] variable is a
  // d1 x d2 block), in the order asked, repeats allowed, all from one
  // version. INVALID_ARGUMENT names the first id outside [0, d0).
  virtual absl::StatusOr<GatheredRows> GatherRows(
      absl::string_view full_name, absl::Span<const int64_t> ids) = 0;

  // tf.nn.embedding_lookup_sparse(params, sp_ids, sp_weights, combiner)
  // pooled on the server: one row per bag of `bags` (BagSpec) of the
  // float32 variable `full_name`, all from one version, so the bytes that
  // travel shrink by the bag size. Its gradient: PushRows with
  // RowUpdateSpec::bags.
  virtual absl::StatusOr<GatheredRows> LookupSparse(
      absl::string_view full_name, absl::Span<const int64_t> ids,
      const BagSpec& bags) = 0;

  // tf.nn.embedding_lookup(params, ids, partition_strategy, max_norm): the
  // rows of `full_name` by id, in the order asked, repeats allowed. For a
  // partitioned variable (ShardedClient) the ids are global and `strategy`
  // says which part holds each (PartitionStrategy); the result's version is
  // then the sum of the parts' versions, as Pull's, each part read at one
  // version. With max_norm, each row is clipped to that L2 norm on the
  // worker (ClipRowsByNorm). This implementation gathers from one variable,
  // ignoring `strategy`.
  virtual absl::StatusOr<GatheredRows> EmbeddingLookup(
      absl::string_view full_name, absl::Span<const int64_t> ids,
      PartitionStrategy strategy = PartitionStrategy::kMod,
      std::optional<double> max_norm = std::nullopt);

  // Sorted by name; `prefix` matches whole path components ("" for all).
  virtual absl::StatusOr<std::vector<VariableInfo>> ListVariables(
      absl::string_view prefix) = 0;

  // Deletes one variable (NOT_FOUND if absent) or every variable under a
  // scope (OK and an empty list if there are none). Returns the deleted names.
  virtual absl::StatusOr<std::vector<std::string>> DeleteVariable(
      absl::string_view full_name) = 0;
  virtual absl::StatusOr<std::vector<std::string>> DeleteScope(
      absl::string_view scope) = 0;

  // Batched, conditional read: items whose known_version is current come
  // back `unchanged`, without a value. Results are in the items' order.
  virtual absl::StatusOr<std::vector<PulledValue>> Pull(
      absl::Span<const PullItemSpec> items) = 0;

  // Pull into the caller's memory: each value is written straight into its
  // item's buffer, so a steady-state pull allocates no value and faults no
  // fresh page in. INVALID_ARGUMENT, naming the variable, when a buffer does
  // not have its value's size (an unchanged value's buffer is checked too,
  // but not written). On any error the buffers' contents are unspecified.
  // This implementation pulls strings and copies them (LocalVariableClient
  // uses it); ParameterServerClient and ShardedClient receive into the
  // buffers directly.
  virtual absl::StatusOr<std::vector<PulledInto>> PullInto(
      absl::Span<const PullIntoItem> items);

  // Batched assign / assign-add / apply-gradient. Results are in the
  // updates' order. push.push_id names the push: a server that applied a
  // push with that id answers a repeat with the first answer and applies
  // nothing again, so a retry after UNAVAILABLE or DEADLINE_EXCEEDED (the
  // push may or may not have been applied) should reuse the id. When it is
  // empty, the client makes a random one for this call (NewPushId), which
  // protects nothing across calls.
  virtual absl::StatusOr<std::vector<VariableInfo>> Push(
      const PushSpec& push) = 0;

  // Rows of one variable by id on its first dimension (rank 1 or more), as
  // TensorFlow 1.x applies IndexedSlices: kAssign writes each row in order
  // (tf.scatter_update), kAssignAdd adds each (tf.scatter_add),
  // kApplyGradient sums a repeated id's rows and steps push.optimizer on the
  // touched rows and their slots only (kAdam, as TF 1.x, decays every row's
  // moments; kLazyAdam only the touched rows'). push.rows holds
  // push.ids.size() rows in the ids' order. All or nothing; returns the
  // variable after the update. push.push_id works as Push's: a retry after
  // UNAVAILABLE or DEADLINE_EXCEEDED that reuses it applies nothing again.
  // Empty (no id, unlike Push, which makes one): a retry may apply twice.
  virtual absl::StatusOr<VariableInfo> PushRows(const RowUpdateSpec& push) = 0;

  // A dynamic table (common/table_spec.h): rows keyed by any int64 id,
  // made on first touch, with get_variable's reuse rules; GatherRows and
  // PushRows take its name (no push ids, bags or base versions yet).
  virtual absl::StatusOr<TableStatus> GetTable(const TableRequest& request) {
    return absl::UnimplementedError(
        absl::StrCat("GetTable(", request.name, ") is not offered here."));
  }
  // GatherRows that changes nothing: on a dynamic table, the rows a lookup
  // would return (stored, or initial) without counting sightings, storing
  // ids or moving last use; on a variable, GatherRows itself.
  virtual absl::StatusOr<GatheredRows> PeekRows(absl::string_view full_name,
                                                absl::Span<const int64_t> ids) {
    return absl::UnimplementedError(
        absl::StrCat("PeekRows(", full_name, ") is not offered here."));
  }
  // The table's spec and counters.
  virtual absl::StatusOr<TableStatus> GetTableStats(absl::string_view name) {
    return absl::UnimplementedError(
        absl::StrCat("GetTableStats(", name, ") is not offered here."));
  }

  // The one server's ServerInfo; UNIMPLEMENTED for a client of several.
  virtual absl::StatusOr<ServerInfo> GetServerInfo() {
    return absl::UnimplementedError(
        "GetServerInfo asks one server; ask each shard's client.");
  }
  // The one server joins `cluster` (JoinCluster): returns its cluster after.
  virtual absl::StatusOr<std::string> JoinCluster(absl::string_view cluster) {
    return absl::UnimplementedError(
        absl::StrCat("JoinCluster(", cluster, ") asks one server."));
  }
};

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_VARIABLE_CLIENT_H_
