#ifndef PARAM_SERVER_CLIENT_SHARDED_CLIENT_H_
#define PARAM_SERVER_CLIENT_SHARDED_CLIENT_H_

// Variables spread over N parameter servers. Each variable lives on the
// shard its full name hashes to (client/shard_placement.h), so every worker
// finds it without asking anyone; a large variable can be partitioned along
// its first axis over several shards, as tf.get_variable(...,
// partitioner=tf.fixed_size_partitioner(k)) does, and is reassembled on pull
// and split on push without the caller noticing.
//
// Every call states the place it expects of its server (shard i of N, and
// ClientOptions::job when set); a server at another place refuses it
// (FAILED_PRECONDITION), so a list in another order, or one server longer or
// shorter than the job, changes nothing. CheckCluster asks every shard at
// once and remembers each one's incarnation: a shard that later answers
// NOT_FOUND with another incarnation lost its data, and the error says so.
//
// Errors from an unreachable shard (UNAVAILABLE, DEADLINE_EXCEEDED) or one
// at another place (FAILED_PRECONDITION) name it: "Parameter server shard 1
// of 3 (host:port): <error>". A server's other errors (ALREADY_EXISTS,
// NOT_FOUND, ...) keep their TensorFlow wording.
//
// A batched Push is all-or-nothing on each shard, not across shards: when one
// shard refuses, the updates bound for the others may have been applied (as
// with TensorFlow's separate parameter-server tasks). Every shard's part
// carries the push's one push_id (a random one when the spec has none), so
// repeating the same PushSpec, id included, applies only the parts that
// were not applied: shards that did answer the repeat with their first
// answer.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "client/client.h"
#include "client/partitioning.h"
#include "client/shard_workers.h"
#include "client/variable_client.h"
#include "common/mutex.h"
#include "common/tensor_shape.h"

namespace paramserver {

// A partitioned variable as fetched: the whole, and its parts.
struct PartitionedVariable {
  VariableInfo info;     // Full name and shape; version = sum of the parts'.
  bool created = false;  // This call created the parts.
  std::vector<VariableInfo> parts;  // "name/part_0", ... in order.
  std::string value;                // The parts' values joined, when asked.
};

class ShardedClient final : public VariableClient {
 public:
  // `targets` are the shards' "host:port" in shard order (shard i first at
  // index i; with a StatefulSet, shard i is pod ps-i). Every worker must list
  // the same servers in the same order: each call tells its server the place
  // it expects (shard i of targets.size(), of options.job when set). Does
  // not wait for them.
  static absl::StatusOr<std::unique_ptr<ShardedClient>> Connect(
      absl::Span<const std::string> targets, const ClientOptions& options = {});

  // Over clients already made, one per shard in shard order (in-process
  // stores in tests, say); `names[i]` names shard i in errors as a target
  // would. INVALID_ARGUMENT when there are none or the counts differ.
  static absl::StatusOr<std::unique_ptr<ShardedClient>> Create(
      std::vector<std::unique_ptr<VariableClient>> shards,
      std::vector<std::string> names);

  int num_shards() const { return static_cast<int>(shards_.size()); }

  // Asks every shard, concurrently, for its ServerInfo and checks the
  // cluster, naming the first shard at fault:
  // - each is at the place this client lists it (FAILED_PRECONDITION);
  // - all belong to one cluster (FAILED_PRECONDITION when the list mixes
  //   deployments). The first worker to see a new job's shards makes them a
  //   cluster: a random id, given to shard 0 first so that workers starting
  //   together agree, then to the others;
  // - a shard outside the cluster while its other shards hold variables has
  //   lost its data: DATA_LOSS, unless `accept_empty_shards` (psctl join),
  //   which lets it join as it is.
  // Remembers the shards' incarnations for lost-data errors later. A worker
  // calls it once before its first step. Returns each shard's info.
  absl::StatusOr<std::vector<ServerInfo>> CheckCluster(
      bool accept_empty_shards = false);
  const std::string& target(int shard) const;
  // The shard holding the variable `full_name` (ShardForVariable: slots and
  // partitions live with their variable).
  int ShardOf(absl::string_view full_name) const;

  // tf.get_variable with a fixed-size partitioner: the variable is created
  // (or reused, per request.reuse) as min(num_partitions, shape[0]) parts
  // "name/part_i" on consecutive shards. Needs a fully defined shape of rank
  // >= 1. Initializers see the whole shape for their fans (Glorot, variance
  // scaling); a seeded random initializer uses seed + i for part i, so parts
  // differ (TensorFlow repeats the seed, and equal-sized parts repeat their
  // values). A constant list fills the whole variable as it would an
  // unpartitioned one (row-major, the last value repeated) and each part gets
  // its rows (TensorFlow gives every part the whole list, which fails for a
  // list longer than a part). When some part cannot be made,
  // the parts this call created are deleted again. Afterwards this client's
  // Pull, Push, ReadVariable and DeleteVariable accept the whole name.
  absl::StatusOr<PartitionedVariable> GetPartitionedVariable(
      const VariableRequest& request, int num_partitions,
      bool return_value = false);

  using VariableClient::GetVariable;
  absl::StatusOr<FetchedVariable> GetVariable(const VariableRequest& request,
                                              bool return_value) override;
  absl::StatusOr<FetchedVariable> ReadVariable(
      absl::string_view full_name) override;
  // From the shard that holds the variable. A partitioned variable is
  // UNIMPLEMENTED here, which has no partition strategy: EmbeddingLookup
  // gathers its rows by global id.
  absl::StatusOr<GatheredRows> GatherRows(
      absl::string_view full_name, absl::Span<const int64_t> ids) override;
  // GatherRows that changes nothing (VariableClient::PeekRows).
  absl::StatusOr<GatheredRows> PeekRows(absl::string_view full_name,
                                        absl::Span<const int64_t> ids) override;
  // To the shard that holds the variable, as GatherRows. For a partitioned
  // variable the ids are global: push.partition_strategy routes each id's
  // row to the part that owns it (as the gradient of embedding_lookup
  // flows), one push per part, the shards concurrently; each part's push
  // is all or nothing, the whole is not (a part may fail after another
  // applied). Every argument is checked before anything is sent: ids in
  // range, rows of the right size, no bounded staleness (it needs an
  // unpartitioned variable). The version returned is the sum of the parts'.
  // The gradient of a pooled lookup (push.bags) goes to each part as its
  // sub-bags' rows with the weights LookupSparse gave them, so every id
  // receives its bag's row times its weight over its bag's divisor. With a
  // push_id, part p's push carries "<push_id>/<p>", so that a retry of the
  // whole push with the same id applies only the parts that had not been
  // applied (INVALID_ARGUMENT, before anything is sent, when such an id
  // would pass kMaxPushIdBytes).
  absl::StatusOr<VariableInfo> PushRows(const RowUpdateSpec& push) override;
  // A dynamic table is spread over all the shards by id (with one shard it
  // lives there whole): shard s holds a slice of the same name with the ids
  // IdShardOf(id, N) == s (common/table_spec.h) and capacity / N rows,
  // rounded up. The slice on the name's own shard is asked first, with the
  // request's reuse mode, and answers get_variable's question for the
  // table; the others are then made or reused (AUTO_REUSE) with its seed,
  // so a call that failed half way is completed by the next (a CREATE that
  // failed after the home slice leaves it: retry with AUTO_REUSE). A table
  // kept whole on its shard (made by a one-server client, or before tables
  // were spread) is used whole. The request's id shard fields are ignored.
  // The status is the whole table's: the home slice's spec with the
  // capacities added up (id_shard_count N), and the slices' counters added
  // up, but steps, the largest slice's (each slice counts the pushes that
  // reach it, and LazyAdam's bias correction uses the slice's count).
  // GetTableStats of a table made by a one-server client is that table's.
  // GatherRows and PushRows on a spread table send each id to its slice, the
  // shards concurrently; each slice's part is all or nothing, the whole is not.
  // Their version is the sum of the versions of the slices the call reached. A
  // client that has not met the table learns it the first time a slice refuses
  // an id (FAILED_PRECONDITION). DeleteVariable deletes every slice, the home
  // slice first; deleting a name whose home slice is gone still deletes
  // the slices a failed deletion left.
  absl::StatusOr<TableStatus> GetTable(const TableRequest& request) override;
  absl::StatusOr<TableStatus> GetTableStats(absl::string_view name) override;
  // From the shard that holds the variable. Over a partitioned variable the
  // ids are global and placed by `strategy` (kMod, TF's default, through
  // the VariableClient interface), as tf.nn.embedding_lookup_sparse places
  // them: each part pools the sub-bags of the ids it holds on its server
  // (SplitBags: weights divided by their whole bag's divisor, summed) and
  // the parts' rows are added here, so a bag's row is what one server would
  // pool, to rounding. The parts are read one after another on each shard,
  // the shards concurrently, each at one version (not all at the same
  // moment); the version is the sum of the parts'. Bags, ids and dtype are
  // checked before anything is sent.
  absl::StatusOr<GatheredRows> LookupSparse(absl::string_view full_name,
                                            absl::Span<const int64_t> ids,
                                            const BagSpec& bags) override;
  absl::StatusOr<GatheredRows> LookupSparse(absl::string_view full_name,
                                            absl::Span<const int64_t> ids,
                                            const BagSpec& bags,
                                            PartitionStrategy strategy);
  // Over a partitioned variable: every part is asked (one whose rows are
  // not needed only for its version), one shard's parts in turn, the shards
  // concurrently.
  absl::StatusOr<GatheredRows> EmbeddingLookup(
      absl::string_view full_name, absl::Span<const int64_t> ids,
      PartitionStrategy strategy = PartitionStrategy::kMod,
      std::optional<double> max_norm = std::nullopt) override;
  // Every shard's variables, merged in name order.
  absl::StatusOr<std::vector<VariableInfo>> ListVariables(
      absl::string_view prefix) override;
  absl::StatusOr<std::vector<std::string>> DeleteVariable(
      absl::string_view full_name) override;
  // Deletes the scope on every shard.
  absl::StatusOr<std::vector<std::string>> DeleteScope(
      absl::string_view scope) override;
  // One call per shard involved, concurrently. A partitioned variable's
  // version is the sum of its parts' versions; given as known_version, it
  // is matched part by part against the versions this client last saw, so a
  // part that moved (even backwards, after a restore) is always sent.
  absl::StatusOr<std::vector<PulledValue>> Pull(
      absl::Span<const PullItemSpec> items) override;
  // Pull's calls and versions, each shard receiving straight into the
  // caller's buffers: a partitioned variable's parts go into their rows of
  // its buffer. A part whose shape no longer fits the variable's layout is
  // INVALID_ARGUMENT naming the part.
  absl::StatusOr<std::vector<PulledInto>> PullInto(
      absl::Span<const PullIntoItem> items) override;
  // One call per shard involved, concurrently. A partitioned variable's value
  // is split by rows; bounded staleness (base_version) needs an unpartitioned
  // variable.
  absl::StatusOr<std::vector<VariableInfo>> Push(const PushSpec& push) override;

 private:
  using Layout = PartitionLayout;

  ShardedClient(std::vector<std::unique_ptr<VariableClient>> shards,
                std::vector<std::string> targets)
      : shards_(std::move(shards)),
        targets_(std::move(targets)),
        workers_(std::make_unique<ShardWorkers>(
            static_cast<int>(shards_.size()) - 1)) {}

  // Names the shard in transport and placement errors. NOT_FOUND from a
  // shard whose incarnation changed since CheckCluster becomes DATA_LOSS
  // naming the shard; other errors pass unchanged.
  absl::Status ShardError(int shard, const absl::Status& status) const;
  absl::Status NamedShardError(int shard, const absl::Status& status) const;
  std::optional<Layout> FindLayout(absl::string_view full_name) const;
  // One batched Pull per shard with requests, concurrently; `replies` gets
  // one vector per shard, in request order.
  absl::Status PullRound(const std::vector<std::vector<PullItemSpec>>& requests,
                         std::vector<std::vector<PulledValue>>& replies);
  absl::Status PullIntoRound(
      const std::vector<std::vector<PullIntoItem>>& requests,
      std::vector<std::vector<PulledInto>>& replies);
  // The parts' versions this client last saw for a partitioned variable.
  std::optional<std::vector<int64_t>> PartVersions(
      absl::string_view full_name) const;
  void RememberPartVersions(absl::string_view full_name,
                            std::vector<int64_t> versions);
  // For a pull of a partitioned variable with `known_version` (the sum of
  // its parts' versions): the parts' versions this client last saw, when
  // there are `num_parts` of them and they add up to it, so each part can be
  // pulled conditionally; nullopt when the pull is not conditional.
  std::optional<std::vector<int64_t>> KnownPartVersions(
      absl::string_view full_name, int num_parts, int64_t known_version) const;
  // EmbeddingLookup, LookupSparse and PushRows on a partitioned variable
  // (client/sharded_rows.cc).
  absl::StatusOr<GatheredRows> LookupPartitioned(absl::string_view full_name,
                                                 const Layout& layout,
                                                 absl::Span<const int64_t> ids,
                                                 PartitionStrategy strategy);
  absl::StatusOr<VariableInfo> PushPartitionedRows(const RowUpdateSpec& push,
                                                   const Layout& layout);
  // LookupSparse on a partitioned variable, and the push of its gradient
  // (push.bags set): each part gets its sub-bags' rows.
  absl::StatusOr<GatheredRows> PoolPartitioned(absl::string_view full_name,
                                               const Layout& layout,
                                               absl::Span<const int64_t> ids,
                                               const BagSpec& bags,
                                               PartitionStrategy strategy);
  absl::StatusOr<VariableInfo> PushPartitionedBags(const RowUpdateSpec& push,
                                                   const Layout& layout);
  // Each of `parts` (one per part, named as the part) to the shard that
  // holds its part, one shard's parts in turn, the shards concurrently.
  // The version is the sum of the parts'.
  absl::StatusOr<VariableInfo> PushParts(
      absl::string_view full_name, const Layout& layout,
      const std::vector<RowUpdateSpec>& parts);
  // The parts of a variable with `num_parts` parts, by the shard that holds
  // each.
  std::vector<std::vector<int>> PartsByShard(absl::string_view full_name,
                                             int num_parts) const;
  absl::StatusOr<std::vector<std::string>> DeletePartitioned(
      absl::string_view full_name, const Layout& layout);
  // Spread dynamic tables (client/sharded_tables.cc). The spec kept is the
  // home slice's.
  std::optional<TableSpec> FindSpreadTable(absl::string_view name) const;
  void RememberSpreadTable(absl::string_view name, const TableSpec& spec);
  // Completes GetTable and GetTableStats of a spread table once its home
  // slice answered: `ask(shard)` for every other shard, concurrently, then
  // the whole table (remembered).
  absl::StatusOr<TableStatus> WithOtherSlices(
      absl::string_view name, const TableStatus& home_slice,
      const std::function<absl::StatusOr<TableStatus>(int shard)>& ask);
  // Asks the name's shard whether `name` is a table spread over this
  // client's shards; remembers it and returns true if so.
  bool LearnSpreadTable(absl::string_view name);
  // GatherRows and PeekRows.
  absl::StatusOr<GatheredRows> ReadRows(absl::string_view full_name,
                                        absl::Span<const int64_t> ids,
                                        TableRead read);
  absl::StatusOr<GatheredRows> GatherSpread(absl::string_view name,
                                            const TableSpec& spec,
                                            absl::Span<const int64_t> ids,
                                            TableRead read);
  absl::StatusOr<VariableInfo> PushSpread(const RowUpdateSpec& push,
                                          const TableSpec& spec);
  absl::StatusOr<std::vector<std::string>> DeleteSpreadTable(
      absl::string_view name);
  // Deletes `name` on every shard but its own, where it can only be a
  // table's slice; NOT_FOUND is no error. Returns {name} when any shard
  // held it, else nothing.
  absl::StatusOr<std::vector<std::string>> DeleteOtherSlices(
      absl::string_view name);
  // The layout committed for `full_name` (client/partitioning.h), nullopt
  // when none is.
  absl::StatusOr<std::optional<Layout>> ReadCommittedLayout(
      absl::string_view full_name);
  // Creates the descriptor: OK, or ALREADY_EXISTS when another call
  // committed first.
  absl::Status CommitLayout(absl::string_view full_name, const Layout& layout);
  // Looks up the committed layouts of those `names` this client does not
  // know; true when it learned any (a variable another client partitioned).
  bool LearnLayouts(absl::Span<const std::string> names);
  // Parts of `full_name` ("full_name/part_N") on any shard, and its
  // descriptor, deleted: the remains of a creation that never committed.
  absl::StatusOr<std::vector<std::string>> DeleteUncommittedParts(
      absl::string_view full_name);

  const std::vector<std::unique_ptr<VariableClient>> shards_;
  const std::vector<std::string> targets_;  // Per shard.
  // Calls to several shards go out on these threads (and the caller's).
  const std::unique_ptr<ShardWorkers> workers_;
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, Layout> layouts_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, TableSpec> spread_tables_
      ABSL_GUARDED_BY(mu_);
  // Per shard, its incarnation as CheckCluster found it ("" before).
  std::vector<std::string> incarnations_ ABSL_GUARDED_BY(mu_);
  // Per partitioned variable: its parts' versions as last pulled, pushed or
  // fetched here, which turn a whole's known_version (their sum) back into
  // exact per-part versions for a conditional pull.
  absl::flat_hash_map<std::string, std::vector<int64_t>> part_versions_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_SHARDED_CLIENT_H_
