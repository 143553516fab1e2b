#include "client/sharded_client.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/partitioning.h"
#include "client/shard_placement.h"
#include "common/dtype.h"
#include "common/initializer_spec.h"
#include "common/names.h"

namespace paramserver {
namespace {

absl::Status FirstError(const std::vector<absl::Status>& statuses) {
  for (const absl::Status& status : statuses) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// The names of `items` without a layout: unpartitioned as far as this
// client knows.
template <typename Item, typename Layouts>
std::vector<std::string> UnpartitionedNames(const Item& items,
                                            const Layouts& layouts) {
  std::vector<std::string> names;
  for (size_t i = 0; i < layouts.size(); ++i) {
    if (!layouts[i]) names.push_back(items[i].name);
  }
  return names;
}

// Where one result of a shard's batched call belongs: an item of the
// caller's batch, whole (part < 0) or one partition of it.
struct Slot {
  size_t item;
  int part;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ShardedClient>> ShardedClient::Connect(
    absl::Span<const std::string> targets, const ClientOptions& options) {
  if (targets.empty()) {
    return absl::InvalidArgumentError(
        "A sharded client needs at least one server.");
  }
  std::vector<std::unique_ptr<VariableClient>> shards;
  const int count = static_cast<int>(targets.size());
  for (int i = 0; i < count; ++i) {
    ClientOptions shard_options = options;
    shard_options.expected_place = ShardPlace{options.job, i, count};
    if (absl::Status s = ValidateShardPlace(*shard_options.expected_place);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<std::unique_ptr<ParameterServerClient>> client =
        ParameterServerClient::Connect(targets[i], shard_options);
    if (!client.ok()) return client.status();
    shards.push_back(*std::move(client));
  }
  return Create(std::move(shards),
                std::vector<std::string>(targets.begin(), targets.end()));
}

absl::StatusOr<std::unique_ptr<ShardedClient>> ShardedClient::Create(
    std::vector<std::unique_ptr<VariableClient>> shards,
    std::vector<std::string> names) {
  if (shards.empty() || shards.size() != names.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "A sharded client needs at least one server and a name for each (",
        shards.size(), " servers, ", names.size(), " names)."));
  }
  return std::unique_ptr<ShardedClient>(
      new ShardedClient(std::move(shards), std::move(names)));
}

const std::string& ShardedClient::target(int shard) const {
  return targets_[shard];
}

int ShardedClient::ShardOf(absl::string_view full_name) const {
  return ShardForVariable(full_name, num_shards());
}

absl::StatusOr<std::vector<ServerInfo>> ShardedClient::CheckCluster(
    bool accept_empty_shards) {
  std::vector<absl::StatusOr<ServerInfo>> asked(
      num_shards(), absl::UnknownError("not asked"));
  workers_->Run(AllShards(num_shards()), [&](int shard) {
    asked[shard] = shards_[shard]->GetServerInfo();
  });
  std::vector<ServerInfo> infos;
  for (int shard = 0; shard < num_shards(); ++shard) {
    if (!asked[shard].ok()) return ShardError(shard, asked[shard].status());
    infos.push_back(*std::move(asked[shard]));
  }
  // The cluster the shards belong to, and who is outside it.
  int member = -1;
  int64_t held = 0;
  std::vector<int> outside;
  for (int shard = 0; shard < num_shards(); ++shard) {
    const ServerInfo& info = infos[shard];
    if (info.cluster.empty()) {
      outside.push_back(shard);
      continue;
    }
    if (member >= 0 && info.cluster != infos[member].cluster) {
      return NamedShardError(
          shard, absl::FailedPreconditionError(absl::StrCat(
                     "This server belongs to cluster ", info.cluster,
                     ", but shard ", member, " (", target(member),
                     ") to cluster ", infos[member].cluster,
                     ": the list mixes the shards of two deployments.")));
    }
    member = shard;
    held += info.num_variables;
  }
  if (!outside.empty()) {
    if (member >= 0 && held > 0 && !accept_empty_shards) {
      const int lost = outside[0];
      return NamedShardError(
          lost,
          absl::DataLossError(absl::StrCat(
              "The shard lost its data: it holds ", infos[lost].num_variables,
              " variables and is not part of cluster ", infos[member].cluster,
              ", whose other shards hold ", held,
              " variables (its data directory was lost or replaced, and it "
              "was started with --initialize_data_dir). Restore its data and "
              "restart it, or accept it as it is with `psctl --servers=... "
              "join`.")));
    }
    std::string cluster = member >= 0 ? infos[member].cluster : "";
    if (cluster.empty()) {
      // A new job: shard 0 decides, so workers starting together agree.
      absl::StatusOr<std::string> joined =
          shards_[0]->JoinCluster(NewRandomId());
      if (absl::IsFailedPrecondition(joined.status())) {
        joined = shards_[0]->JoinCluster("");  // Another worker won.
      }
      if (!joined.ok()) return ShardError(0, joined.status());
      cluster = *joined;
    }
    for (int shard : outside) {
      absl::StatusOr<std::string> joined = shards_[shard]->JoinCluster(cluster);
      if (!joined.ok()) return ShardError(shard, joined.status());
      infos[shard].cluster = *joined;
    }
  }
  MutexLock lock(&mu_);
  incarnations_.resize(num_shards());
  for (int shard = 0; shard < num_shards(); ++shard) {
    incarnations_[shard] = infos[shard].incarnation;
  }
  return infos;
}

absl::Status ShardedClient::NamedShardError(int shard,
                                            const absl::Status& status) const {
  return absl::Status(
      status.code(),
      absl::StrCat("Parameter server shard ", shard, " of ", num_shards(), " (",
                   target(shard), "): ", status.message()));
}

absl::Status ShardedClient::ShardError(int shard,
                                       const absl::Status& status) const {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kFailedPrecondition:
      return NamedShardError(shard, status);
    case absl::StatusCode::kNotFound:
      break;
    default:
      return status;
  }
  std::string seen;
  {
    MutexLock lock(&mu_);
    if (static_cast<size_t>(shard) < incarnations_.size()) {
      seen = incarnations_[shard];
    }
  }
  if (seen.empty()) return status;
  // Only on this error path: is the shard still the one CheckCluster saw?
  absl::StatusOr<ServerInfo> now = shards_[shard]->GetServerInfo();
  if (!now.ok() || now->incarnation == seen) return status;
  return NamedShardError(
      shard,
      absl::DataLossError(absl::StrCat(
          "The shard lost its data: it started anew (incarnation ",
          now->incarnation, ", holding ", now->num_variables,
          " variables) since this worker first saw it (incarnation ", seen,
          "), so: ", status.message(),
          " Restore the shard's data directory and restart it, or restart "
          "the job.")));
}

std::optional<ShardedClient::Layout> ShardedClient::FindLayout(
    absl::string_view full_name) const {
  MutexLock lock(&mu_);
  auto it = layouts_.find(full_name);
  if (it == layouts_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::optional<ShardedClient::Layout>>
ShardedClient::ReadCommittedLayout(absl::string_view full_name) {
  const int shard = ShardOf(full_name);
  absl::StatusOr<FetchedVariable> descriptor =
      shards_[shard]->ReadVariable(DescriptorName(full_name));
  if (!descriptor.ok()) {
    // DATA_LOSS when the shard lost it; NOT_FOUND: not committed.
    absl::Status status = ShardError(shard, descriptor.status());
    if (absl::IsNotFound(status)) return std::nullopt;
    return status;
  }
  if (descriptor->info.dtype != DType::kInt64) {
    return DecodeDescriptor("", full_name).status();
  }
  absl::StatusOr<Layout> layout =
      DecodeDescriptor(descriptor->value, full_name);
  if (!layout.ok()) return layout.status();
  return *std::move(layout);
}

absl::Status ShardedClient::CommitLayout(absl::string_view full_name,
                                         const Layout& layout) {
  const std::vector<int64_t> values = EncodeDescriptor(layout);
  VariableRequest request;
  request.name = DescriptorName(full_name);
  request.reuse = ReuseMode::kCreate;
  request.shape = TensorShape{static_cast<int64_t>(values.size())};
  request.dtype = DType::kInt64;
  request.trainable = false;
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values.assign(values.begin(), values.end());
  const int shard = ShardOf(full_name);
  absl::StatusOr<FetchedVariable> made =
      shards_[shard]->GetVariable(request, /*return_value=*/false);
  if (!made.ok()) return ShardError(shard, made.status());
  return absl::OkStatus();
}

absl::StatusOr<PartitionedVariable> ShardedClient::GetPartitionedVariable(
    const VariableRequest& request, int num_partitions, bool return_value) {
  const std::string full_name = JoinScope(request.scope, request.name);
  absl::StatusOr<PartitionLayout> made =
      MakePartitionLayout(request, num_partitions, full_name);
  if (!made.ok()) return made.status();
  const Layout& layout = *made;

  // Committed already: reuse it, with TensorFlow's checks.
  absl::StatusOr<std::optional<Layout>> committed =
      ReadCommittedLayout(full_name);
  if (!committed.ok()) return committed.status();
  bool reuse_parts = committed->has_value();
  if (!reuse_parts && request.reuse == ReuseMode::kReuse) {
    return absl::NotFoundError(absl::StrCat(
        "PartitionedVariable ", full_name,
        " does not exist, or was not created with tf.get_variable(). Did you "
        "mean to set reuse=False or reuse=tf.AUTO_REUSE in VarScope?"));
  }

  const int parts = static_cast<int>(layout.rows.size());
  std::vector<std::vector<int>> parts_of_shard(num_shards());
  std::vector<VariableRequest> part_requests(parts);
  int64_t first_row = 0;
  for (int p = 0; p < parts; ++p) {
    VariableRequest& part = part_requests[p];
    part = request;
    part.name = absl::StrCat(request.name, "/part_", p);
    part.shape = layout.shape;
    (*part.shape)[0] = layout.rows[p];
    absl::StatusOr<InitializerSpec> init =
        PartInitializer(request.initializer, layout.shape, p, first_row,
                        layout.rows[p], full_name);
    if (!init.ok()) return init.status();
    part.initializer = *std::move(init);
    first_row += layout.rows[p];
    parts_of_shard[ShardForPartition(full_name, p, num_shards())].push_back(p);
  }

  bool created = false;
  std::vector<absl::StatusOr<FetchedVariable>> fetched(
      parts, absl::UnknownError("not fetched"));
  // Two rounds at most: creating parts and committing them can find that
  // another worker committed first, and then reuses what it committed.
  for (int round = 0; round < 2; ++round) {
    if (reuse_parts) {
      if (request.reuse == ReuseMode::kCreate) {
        return absl::AlreadyExistsError(
            absl::StrCat("Partitioned variable with name ", full_name,
                         " already exists. Did you mean to set reuse=True or "
                         "reuse=tf.AUTO_REUSE in VarScope?"));
      }
      if (absl::Status s = CheckReusedLayout(layout, **committed, full_name);
          !s.ok()) {
        return s;
      }
    }
    // A part left by a creation that failed half-way is adopted under
    // auto-reuse (created with CREATE it is "already exists", as in
    // TensorFlow); no part is ever deleted here, since another worker may
    // be adopting it.
    for (VariableRequest& part : part_requests) {
      part.reuse = reuse_parts ? ReuseMode::kReuse : request.reuse;
    }
    workers_->Run(NonEmpty(parts_of_shard), [&](int shard) {
      for (int p : parts_of_shard[shard]) {
        fetched[p] =
            shards_[shard]->GetVariable(part_requests[p], return_value);
        if (!fetched[p].ok())
          fetched[p] = ShardError(shard, fetched[p].status());
      }
    });
    for (int p = 0; p < parts; ++p) {
      if (!fetched[p].ok()) return fetched[p].status();
    }
    if (reuse_parts) break;
    // Every part exists: commit. The descriptor is created once, so of two
    // workers creating the variable at once exactly one commits.
    absl::Status commit = CommitLayout(full_name, layout);
    if (commit.ok()) {
      created = true;
      break;
    }
    if (!absl::IsAlreadyExists(commit)) return commit;
    committed = ReadCommittedLayout(full_name);
    if (!committed.ok()) return committed.status();
    if (!committed->has_value()) {
      return absl::AbortedError(absl::StrCat(
          "Partitioned variable ", full_name,
          " was committed and deleted again while this call created it; "
          "retry."));
    }
    reuse_parts = true;
  }

  PartitionedVariable result;
  result.created = created;
  result.info = {full_name, layout.shape, layout.dtype, 0, layout.trainable};
  std::vector<int64_t> versions;
  for (int p = 0; p < parts; ++p) {
    result.info.version += fetched[p]->info.version;
    result.parts.push_back(fetched[p]->info);
    versions.push_back(fetched[p]->info.version);
    if (return_value) result.value += fetched[p]->value;
  }
  MutexLock lock(&mu_);
  layouts_[full_name] = layout;
  part_versions_[full_name] = std::move(versions);
  return result;
}

bool ShardedClient::LearnLayouts(absl::Span<const std::string> names) {
  bool learned = false;
  for (const std::string& name : names) {
    if (FindLayout(name)) continue;
    absl::StatusOr<std::optional<Layout>> committed = ReadCommittedLayout(name);
    if (!committed.ok() || !committed->has_value()) continue;
    MutexLock lock(&mu_);
    layouts_[name] = **committed;
    learned = true;
  }
  return learned;
}

absl::StatusOr<FetchedVariable> ShardedClient::GetVariable(
    const VariableRequest& request, bool return_value) {
  const int shard = ShardOf(JoinScope(request.scope, request.name));
  absl::StatusOr<FetchedVariable> fetched =
      shards_[shard]->GetVariable(request, return_value);
  if (!fetched.ok()) return ShardError(shard, fetched.status());
  return fetched;
}

absl::StatusOr<FetchedVariable> ShardedClient::ReadVariable(
    absl::string_view full_name) {
  if (FindLayout(full_name)) {
    const PullItemSpec item{std::string(full_name), 0};
    absl::StatusOr<std::vector<PulledValue>> pulled = Pull({&item, 1});
    if (!pulled.ok()) return pulled.status();
    FetchedVariable fetched;
    fetched.info = std::move((*pulled)[0].info);
    fetched.value = std::move((*pulled)[0].value);
    return fetched;
  }
  const int shard = ShardOf(full_name);
  absl::StatusOr<FetchedVariable> fetched =
      shards_[shard]->ReadVariable(full_name);
  if (fetched.ok()) return fetched;
  absl::Status status = ShardError(shard, fetched.status());
  // Maybe partitioned by another client: read it whole.
  if (absl::IsNotFound(status) && LearnLayouts({std::string(full_name)})) {
    return ReadVariable(full_name);
  }
  return status;
}

absl::StatusOr<GatheredRows> ShardedClient::GatherRows(
    absl::string_view full_name, absl::Span<const int64_t> ids) {
  return ReadRows(full_name, ids, TableRead::kLookup);
}

absl::StatusOr<GatheredRows> ShardedClient::PeekRows(
    absl::string_view full_name, absl::Span<const int64_t> ids) {
  return ReadRows(full_name, ids, TableRead::kPeek);
}

absl::StatusOr<GatheredRows> ShardedClient::ReadRows(
    absl::string_view full_name, absl::Span<const int64_t> ids,
    TableRead read) {
  if (FindLayout(full_name)) {
    return absl::UnimplementedError(absl::StrCat(
        full_name,
        " is partitioned; gather its rows by global id with EmbeddingLookup, "
        "which takes the partition strategy."));
  }
  if (std::optional<TableSpec> table = FindSpreadTable(full_name)) {
    return GatherSpread(full_name, *table, ids, read);
  }
  const int shard = ShardOf(full_name);
  absl::StatusOr<GatheredRows> gathered =
      read == TableRead::kPeek ? shards_[shard]->PeekRows(full_name, ids)
                               : shards_[shard]->GatherRows(full_name, ids);
  if (gathered.ok()) return gathered;
  absl::Status status = ShardError(shard, gathered.status());
  // A table spread over the shards by another client.
  if (absl::IsFailedPrecondition(status) && LearnSpreadTable(full_name)) {
    return ReadRows(full_name, ids, read);
  }
  // Maybe partitioned by another client: say so rather than NOT_FOUND.
  if (absl::IsNotFound(status) && LearnLayouts({std::string(full_name)})) {
    return ReadRows(full_name, ids, read);
  }
  return status;
}

absl::StatusOr<std::vector<VariableInfo>> ShardedClient::ListVariables(
    absl::string_view prefix) {
  std::vector<absl::StatusOr<std::vector<VariableInfo>>> listed(
      num_shards(), absl::UnknownError("not listed"));
  workers_->Run(AllShards(num_shards()), [&](int shard) {
    listed[shard] = shards_[shard]->ListVariables(prefix);
  });
  std::vector<VariableInfo> merged;
  for (int shard = 0; shard < num_shards(); ++shard) {
    if (!listed[shard].ok()) return ShardError(shard, listed[shard].status());
    for (VariableInfo& info : *listed[shard]) merged.push_back(std::move(info));
  }
  std::sort(merged.begin(), merged.end(),
            [](const VariableInfo& a, const VariableInfo& b) {
              return a.name < b.name;
            });
  return merged;
}

absl::StatusOr<std::vector<std::string>> ShardedClient::DeleteVariable(
    absl::string_view full_name) {
  if (std::optional<Layout> layout = FindLayout(full_name)) {
    return DeletePartitioned(full_name, *layout);
  }
  if (FindSpreadTable(full_name) || LearnSpreadTable(full_name)) {
    return DeleteSpreadTable(full_name);
  }
  const int shard = ShardOf(full_name);
  absl::StatusOr<std::vector<std::string>> deleted =
      shards_[shard]->DeleteVariable(full_name);
  if (deleted.ok()) return deleted;
  absl::Status status = ShardError(shard, deleted.status());
  if (!absl::IsNotFound(status)) return status;
  // The slices a deletion of a spread table left when it failed half way.
  std::vector<std::string> slices;
  if (num_shards() > 1) {
    absl::StatusOr<std::vector<std::string>> left =
        DeleteOtherSlices(full_name);
    if (!left.ok()) return left.status();
    slices = *std::move(left);
  }
  // Partitioned by another client, or the remains of a creation that never
  // committed.
  if (LearnLayouts({std::string(full_name)})) {
    if (std::optional<Layout> layout = FindLayout(full_name)) {
      return DeletePartitioned(full_name, *layout);
    }
  }
  absl::StatusOr<std::vector<std::string>> remains =
      DeleteUncommittedParts(full_name);
  if (!remains.ok()) return remains.status();
  remains->insert(remains->end(), slices.begin(), slices.end());
  if (remains->empty()) return status;
  std::sort(remains->begin(), remains->end());
  return remains;
}

absl::StatusOr<std::vector<std::string>> ShardedClient::DeleteUncommittedParts(
    absl::string_view full_name) {
  const std::string part_prefix = absl::StrCat(full_name, "/part_");
  const std::string descriptor = DescriptorName(full_name);
  const auto is_remain = [&](absl::string_view name) {
    if (name == descriptor) return true;
    if (!absl::ConsumePrefix(&name, part_prefix) || name.empty()) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
  };
  std::vector<absl::Status> statuses(num_shards());
  std::vector<std::vector<std::string>> deleted(num_shards());
  workers_->Run(AllShards(num_shards()), [&](int shard) {
    absl::StatusOr<std::vector<VariableInfo>> listed =
        shards_[shard]->ListVariables(full_name);
    if (!listed.ok()) {
      statuses[shard] = ShardError(shard, listed.status());
      return;
    }
    for (const VariableInfo& info : *listed) {
      if (!is_remain(info.name)) continue;
      absl::StatusOr<std::vector<std::string>> names =
          shards_[shard]->DeleteVariable(info.name);
      if (names.ok()) {
        for (std::string& name : *names)
          deleted[shard].push_back(std::move(name));
      } else if (!absl::IsNotFound(names.status())) {
        statuses[shard] = ShardError(shard, names.status());
        return;
      }
    }
  });
  if (absl::Status s = FirstError(statuses); !s.ok()) return s;
  std::vector<std::string> merged;
  for (auto& names : deleted) {
    for (std::string& name : names) merged.push_back(std::move(name));
  }
  std::sort(merged.begin(), merged.end());
  return merged;
}

absl::StatusOr<std::vector<std::string>> ShardedClient::DeletePartitioned(
    absl::string_view full_name, const Layout& layout) {
  // The descriptor first, so that readers stop seeing the variable before
  // its parts go. Then each part on its shard (its slots go with it); a part
  // already gone counts as deleted, so a retry after a partial failure
  // finishes the job.
  const int home = ShardOf(full_name);
  absl::StatusOr<std::vector<std::string>> uncommitted =
      shards_[home]->DeleteVariable(DescriptorName(full_name));
  if (!uncommitted.ok() && !absl::IsNotFound(uncommitted.status())) {
    return ShardError(home, uncommitted.status());
  }
  const int parts = static_cast<int>(layout.rows.size());
  std::vector<std::vector<int>> parts_of_shard(num_shards());
  for (int p = 0; p < parts; ++p) {
    parts_of_shard[ShardForPartition(full_name, p, num_shards())].push_back(p);
  }
  std::vector<absl::Status> statuses(num_shards());
  std::vector<std::vector<std::string>> deleted(num_shards());
  workers_->Run(NonEmpty(parts_of_shard), [&](int shard) {
    for (int p : parts_of_shard[shard]) {
      absl::StatusOr<std::vector<std::string>> names =
          shards_[shard]->DeleteVariable(PartitionName(full_name, p));
      if (names.ok()) {
        for (std::string& name : *names)
          deleted[shard].push_back(std::move(name));
      } else if (names.status().code() != absl::StatusCode::kNotFound) {
        statuses[shard] = ShardError(shard, names.status());
        return;
      }
    }
  });
  if (absl::Status s = FirstError(statuses); !s.ok()) return s;
  {
    MutexLock lock(&mu_);
    layouts_.erase(full_name);
    part_versions_.erase(full_name);
  }
  std::vector<std::string> merged;
  for (auto& names : deleted) {
    for (std::string& name : names) merged.push_back(std::move(name));
  }
  if (merged.empty()) {
    return absl::NotFoundError(absl::StrCat("Partitioned variable ", full_name,
                                            " has no parts left to delete."));
  }
  std::sort(merged.begin(), merged.end());
  return merged;
}

absl::StatusOr<std::vector<std::string>> ShardedClient::DeleteScope(
    absl::string_view scope) {
  std::vector<absl::StatusOr<std::vector<std::string>>> deleted(
      num_shards(), absl::UnknownError("not deleted"));
  workers_->Run(AllShards(num_shards()), [&](int shard) {
    deleted[shard] = shards_[shard]->DeleteScope(scope);
  });
  std::vector<std::string> merged;
  for (int shard = 0; shard < num_shards(); ++shard) {
    if (!deleted[shard].ok()) return ShardError(shard, deleted[shard].status());
    for (std::string& name : *deleted[shard]) merged.push_back(std::move(name));
  }
  {
    MutexLock lock(&mu_);
    const auto under_scope = [&](const auto& entry) {
      return IsUnderPrefix(entry.first, scope);
    };
    absl::erase_if(layouts_, under_scope);
    absl::erase_if(part_versions_, under_scope);
    absl::erase_if(spread_tables_, under_scope);
  }
  // A spread table's slices share its name.
  std::sort(merged.begin(), merged.end());
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  return merged;
}

absl::Status ShardedClient::PullRound(
    const std::vector<std::vector<PullItemSpec>>& requests,
    std::vector<std::vector<PulledValue>>& replies) {
  std::vector<absl::Status> statuses(num_shards());
  replies.assign(num_shards(), {});
  workers_->Run(NonEmpty(requests), [&](int shard) {
    absl::StatusOr<std::vector<PulledValue>> pulled =
        shards_[shard]->Pull(requests[shard]);
    if (!pulled.ok()) {
      statuses[shard] = ShardError(shard, pulled.status());
    } else if (pulled->size() != requests[shard].size()) {
      statuses[shard] = absl::DataLossError(
          absl::StrCat("Shard ", shard, " answered ", pulled->size(), " of ",
                       requests[shard].size(), " pulled variables."));
    } else {
      replies[shard] = *std::move(pulled);
    }
  });
  return FirstError(statuses);
}

absl::StatusOr<std::vector<PulledValue>> ShardedClient::Pull(
    absl::Span<const PullItemSpec> items) {
  std::vector<std::vector<PullItemSpec>> requests(num_shards());
  std::vector<std::vector<Slot>> slots(num_shards());
  std::vector<PulledValue> results(items.size());
  std::vector<std::optional<Layout>> layouts(items.size());
  std::vector<std::vector<PulledValue>> parts(items.size());
  // A partitioned item is conditional when its known_version is the sum this
  // client last saw: each part is then sent with that part's own version and
  // the servers compare exactly, part by part.
  std::vector<bool> conditional(items.size(), false);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& name = items[i].name;
    layouts[i] = FindLayout(name);
    if (!layouts[i]) {
      const int shard = ShardOf(name);
      requests[shard].push_back(items[i]);
      slots[shard].push_back({i, -1});
      continue;
    }
    const int num_parts = static_cast<int>(layouts[i]->rows.size());
    std::optional<std::vector<int64_t>> seen =
        KnownPartVersions(name, num_parts, items[i].known_version);
    conditional[i] = seen.has_value();
    const std::vector<int64_t> known =
        seen ? *std::move(seen) : std::vector<int64_t>(num_parts, 0);
    parts[i].resize(num_parts);
    for (int p = 0; p < num_parts; ++p) {
      const int shard = ShardForPartition(name, p, num_shards());
      requests[shard].push_back({PartitionName(name, p), known[p]});
      slots[shard].push_back({i, p});
    }
  }
  std::vector<std::vector<PulledValue>> replies;
  if (absl::Status s = PullRound(requests, replies); !s.ok()) {
    // Some name may be a variable another client partitioned.
    if (absl::IsNotFound(s) &&
        LearnLayouts(UnpartitionedNames(items, layouts))) {
      return Pull(items);
    }
    return s;
  }
  for (int shard = 0; shard < num_shards(); ++shard) {
    for (size_t k = 0; k < slots[shard].size(); ++k) {
      const Slot& slot = slots[shard][k];
      PulledValue& reply = replies[shard][k];
      if (slot.part < 0)
        results[slot.item] = std::move(reply);
      else
        parts[slot.item][slot.part] = std::move(reply);
    }
  }
  // A conditional item with some parts changed needs the unchanged parts'
  // values too: one more round for just those.
  std::vector<std::vector<PullItemSpec>> again(num_shards());
  std::vector<std::vector<Slot>> again_slots(num_shards());
  for (size_t i = 0; i < items.size(); ++i) {
    if (!layouts[i] || !conditional[i]) continue;
    const bool all_unchanged =
        std::all_of(parts[i].begin(), parts[i].end(),
                    [](const PulledValue& v) { return v.unchanged; });
    if (all_unchanged) {
      results[i].unchanged = true;
      results[i].info = {items[i].name, layouts[i]->shape, layouts[i]->dtype,
                         items[i].known_version, layouts[i]->trainable};
      layouts[i].reset();  // Nothing to assemble.
      continue;
    }
    for (int p = 0; p < static_cast<int>(parts[i].size()); ++p) {
      if (!parts[i][p].unchanged) continue;
      const int shard = ShardForPartition(items[i].name, p, num_shards());
      again[shard].push_back({PartitionName(items[i].name, p), 0});
      again_slots[shard].push_back({i, p});
    }
  }
  if (!NonEmpty(again).empty()) {
    if (absl::Status s = PullRound(again, replies); !s.ok()) return s;
    for (int shard = 0; shard < num_shards(); ++shard) {
      for (size_t k = 0; k < again_slots[shard].size(); ++k) {
        const Slot& slot = again_slots[shard][k];
        parts[slot.item][slot.part] = std::move(replies[shard][k]);
      }
    }
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (!layouts[i]) continue;
    std::vector<int64_t> versions;
    for (const PulledValue& part : parts[i])
      versions.push_back(part.info.version);
    absl::StatusOr<PulledValue> whole =
        AssembleParts(items[i].name, *layouts[i], std::move(parts[i]));
    if (!whole.ok()) return whole.status();
    results[i] = *std::move(whole);
    RememberPartVersions(items[i].name, std::move(versions));
  }
  return results;
}

absl::Status ShardedClient::PullIntoRound(
    const std::vector<std::vector<PullIntoItem>>& requests,
    std::vector<std::vector<PulledInto>>& replies) {
  std::vector<absl::Status> statuses(num_shards());
  replies.assign(num_shards(), {});
  workers_->Run(NonEmpty(requests), [&](int shard) {
    absl::StatusOr<std::vector<PulledInto>> pulled =
        shards_[shard]->PullInto(requests[shard]);
    if (!pulled.ok()) {
      statuses[shard] = ShardError(shard, pulled.status());
    } else if (pulled->size() != requests[shard].size()) {
      statuses[shard] = absl::DataLossError(
          absl::StrCat("Shard ", shard, " answered ", pulled->size(), " of ",
                       requests[shard].size(), " pulled variables."));
    } else {
      replies[shard] = *std::move(pulled);
    }
  });
  return FirstError(statuses);
}

absl::StatusOr<std::vector<PulledInto>> ShardedClient::PullInto(
    absl::Span<const PullIntoItem> items) {
  std::vector<std::vector<PullIntoItem>> requests(num_shards());
  std::vector<std::vector<Slot>> slots(num_shards());
  std::vector<PulledInto> results(items.size());
  std::vector<std::optional<Layout>> layouts(items.size());
  std::vector<std::vector<PulledInto>> parts(items.size());
  std::vector<bool> conditional(items.size(), false);
  // Part p's rows of item i's buffer.
  const auto part_buffer = [&](size_t i, int p) {
    const Layout& layout = *layouts[i];
    int64_t offset = 0;
    for (int q = 0; q < p; ++q) offset += layout.rows[q] * layout.row_bytes;
    return items[i].buffer.subspan(offset, layout.rows[p] * layout.row_bytes);
  };
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& name = items[i].name;
    layouts[i] = FindLayout(name);
    if (!layouts[i]) {
      const int shard = ShardOf(name);
      requests[shard].push_back(items[i]);
      slots[shard].push_back({i, -1});
      continue;
    }
    const Layout& layout = *layouts[i];
    if (static_cast<int64_t>(items[i].buffer.size()) != layout.total_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "The buffer for ", name, " has ", items[i].buffer.size(),
          " bytes; its value (shape ", ShapeToString(layout.shape), ", ",
          DTypeName(layout.dtype), ") has ", layout.total_bytes, "."));
    }
    const int num_parts = static_cast<int>(layout.rows.size());
    std::optional<std::vector<int64_t>> seen =
        KnownPartVersions(name, num_parts, items[i].known_version);
    conditional[i] = seen.has_value();
    const std::vector<int64_t> known =
        seen ? *std::move(seen) : std::vector<int64_t>(num_parts, 0);
    parts[i].resize(num_parts);
    for (int p = 0; p < num_parts; ++p) {
      const int shard = ShardForPartition(name, p, num_shards());
      requests[shard].push_back(
          {PartitionName(name, p), known[p], part_buffer(i, p)});
      slots[shard].push_back({i, p});
    }
  }
  std::vector<std::vector<PulledInto>> replies;
  if (absl::Status s = PullIntoRound(requests, replies); !s.ok()) {
    // Some name may be a variable another client partitioned.
    if (absl::IsNotFound(s) &&
        LearnLayouts(UnpartitionedNames(items, layouts))) {
      return PullInto(items);
    }
    return s;
  }
  for (int shard = 0; shard < num_shards(); ++shard) {
    for (size_t k = 0; k < slots[shard].size(); ++k) {
      const Slot& slot = slots[shard][k];
      PulledInto& reply = replies[shard][k];
      if (slot.part < 0)
        results[slot.item] = std::move(reply);
      else
        parts[slot.item][slot.part] = std::move(reply);
    }
  }
  // A conditional item with some parts changed: the unchanged parts' rows
  // of the buffer may not hold their values (it need not be the buffer of
  // the last pull), so they are pulled too, as Pull does.
  std::vector<std::vector<PullIntoItem>> again(num_shards());
  std::vector<std::vector<Slot>> again_slots(num_shards());
  for (size_t i = 0; i < items.size(); ++i) {
    if (!layouts[i] || !conditional[i]) continue;
    const bool all_unchanged =
        std::all_of(parts[i].begin(), parts[i].end(),
                    [](const PulledInto& part) { return part.unchanged; });
    if (all_unchanged) continue;
    for (int p = 0; p < static_cast<int>(parts[i].size()); ++p) {
      if (!parts[i][p].unchanged) continue;
      const int shard = ShardForPartition(items[i].name, p, num_shards());
      again[shard].push_back(
          {PartitionName(items[i].name, p), 0, part_buffer(i, p)});
      again_slots[shard].push_back({i, p});
    }
  }
  if (!NonEmpty(again).empty()) {
    if (absl::Status s = PullIntoRound(again, replies); !s.ok()) return s;
    for (int shard = 0; shard < num_shards(); ++shard) {
      for (size_t k = 0; k < again_slots[shard].size(); ++k) {
        const Slot& slot = again_slots[shard][k];
        parts[slot.item][slot.part] = std::move(replies[shard][k]);
      }
    }
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (!layouts[i]) continue;
    const Layout& layout = *layouts[i];
    PulledInto& whole = results[i];
    whole.info = {items[i].name, layout.shape, layout.dtype, 0,
                  layout.trainable};
    whole.unchanged = true;
    std::vector<int64_t> versions;
    for (const PulledInto& part : parts[i]) {
      if (part.info.dtype != layout.dtype) {
        return absl::FailedPreconditionError(absl::StrCat(
            "Partition ", part.info.name, " of ", items[i].name, " has dtype ",
            DTypeName(part.info.dtype), ", which no longer ",
            "fits the variable's ", DTypeName(layout.dtype), "."));
      }
      whole.info.version += part.info.version;
      whole.unchanged = whole.unchanged && part.unchanged;
      versions.push_back(part.info.version);
    }
    RememberPartVersions(items[i].name, std::move(versions));
  }
  return results;
}

std::optional<std::vector<int64_t>> ShardedClient::KnownPartVersions(
    absl::string_view full_name, int num_parts, int64_t known_version) const {
  if (known_version <= 0) return std::nullopt;
  std::optional<std::vector<int64_t>> seen = PartVersions(full_name);
  if (!seen || seen->size() != static_cast<size_t>(num_parts) ||
      std::accumulate(seen->begin(), seen->end(), int64_t{0}) !=
          known_version) {
    return std::nullopt;
  }
  return seen;
}

std::optional<std::vector<int64_t>> ShardedClient::PartVersions(
    absl::string_view full_name) const {
  MutexLock lock(&mu_);
  auto it = part_versions_.find(full_name);
  if (it == part_versions_.end()) return std::nullopt;
  return it->second;
}

void ShardedClient::RememberPartVersions(absl::string_view full_name,
                                         std::vector<int64_t> versions) {
  MutexLock lock(&mu_);
  part_versions_[std::string(full_name)] = std::move(versions);
}

absl::StatusOr<std::vector<VariableInfo>> ShardedClient::Push(
    const PushSpec& push) {
  std::vector<PushSpec> requests(num_shards());
  std::vector<std::vector<Slot>> slots(num_shards());
  std::vector<std::optional<Layout>> layouts(push.updates.size());
  // One id for every shard's part (each shard remembers its own), so that
  // a retry of the whole push applies only on shards that did not apply it.
  const std::string push_id = push.push_id.empty() ? NewPushId() : push.push_id;
  for (PushSpec& request : requests) {
    request.optimizer = push.optimizer;
    request.max_staleness = push.max_staleness;
    request.push_id = push_id;
  }
  for (size_t i = 0; i < push.updates.size(); ++i) {
    const VariableUpdate& update = push.updates[i];
    layouts[i] = FindLayout(update.name);
    if (!layouts[i]) {
      const int shard = ShardOf(update.name);
      requests[shard].updates.push_back(update);
      slots[shard].push_back({i, -1});
      continue;
    }
    const Layout& layout = *layouts[i];
    if (push.max_staleness > 0 && update.base_version) {
      return absl::InvalidArgumentError(
          absl::StrCat("Bounded staleness needs an unpartitioned variable; ",
                       update.name, " is partitioned."));
    }
    const int64_t bytes = layout.total_bytes;
    if (static_cast<int64_t>(update.value.size()) != bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Cannot push ", update.value.size(),
          " bytes to partitioned variable ", update.name, " of shape ",
          ShapeToString(layout.shape), " and dtype ", DTypeName(layout.dtype),
          ": it holds ", bytes, " bytes."));
    }
    int64_t offset = 0;
    for (int p = 0; p < static_cast<int>(layout.rows.size()); ++p) {
      const int64_t part_bytes = layout.rows[p] * layout.row_bytes;
      const int shard = ShardForPartition(update.name, p, num_shards());
      requests[shard].updates.push_back(
          {PartitionName(update.name, p), update.kind,
           update.value.substr(offset, part_bytes), std::nullopt});
      slots[shard].push_back({i, p});
      offset += part_bytes;
    }
  }
  std::vector<absl::Status> statuses(num_shards());
  std::vector<std::vector<VariableInfo>> replies(num_shards());
  workers_->Run(NonEmpty(slots), [&](int shard) {
    absl::StatusOr<std::vector<VariableInfo>> pushed =
        shards_[shard]->Push(requests[shard]);
    if (!pushed.ok()) {
      statuses[shard] = ShardError(shard, pushed.status());
    } else if (pushed->size() != requests[shard].updates.size()) {
      statuses[shard] = absl::DataLossError(
          absl::StrCat("Shard ", shard, " answered ", pushed->size(), " of ",
                       requests[shard].updates.size(), " pushed variables."));
    } else {
      replies[shard] = *std::move(pushed);
    }
  });
  if (absl::Status s = FirstError(statuses); !s.ok()) {
    // A name another client partitioned is learned and the push redone, but
    // only when no shard applied its part (each refused all of it).
    const bool none_applied =
        std::all_of(replies.begin(), replies.end(),
                    [](const auto& reply) { return reply.empty(); });
    if (absl::IsNotFound(s) && none_applied &&
        LearnLayouts(UnpartitionedNames(push.updates, layouts))) {
      return Push(push);
    }
    return s;
  }
  std::vector<VariableInfo> results(push.updates.size());
  std::vector<std::vector<int64_t>> part_versions(push.updates.size());
  for (size_t i = 0; i < push.updates.size(); ++i) {
    if (layouts[i]) {
      part_versions[i].resize(layouts[i]->rows.size());
      results[i] = {push.updates[i].name, layouts[i]->shape, layouts[i]->dtype,
                    0, layouts[i]->trainable};
    }
  }
  for (int shard = 0; shard < num_shards(); ++shard) {
    for (size_t k = 0; k < slots[shard].size(); ++k) {
      const Slot& slot = slots[shard][k];
      if (slot.part < 0) {
        results[slot.item] = std::move(replies[shard][k]);
      } else {
        results[slot.item].version += replies[shard][k].version;
        part_versions[slot.item][slot.part] = replies[shard][k].version;
      }
    }
  }
  for (size_t i = 0; i < push.updates.size(); ++i) {
    if (layouts[i])
      RememberPartVersions(push.updates[i].name, std::move(part_versions[i]));
  }
  return results;
}

}  // namespace paramserver
