// ShardedClient's dynamic tables (server/dynamic_table.h), spread over the
// shards by id: every shard holds a slice of the table, the ids
// IdShardOf(id, N) gives it, as TFRA's dynamic_embedding and Monolith spread
// one table's hash keys over their parameter servers. The slice on the
// shard the name hashes to (the home slice) is made first and decides
// get_variable's reuse question for the whole table.

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/shard_placement.h"
#include "client/shard_workers.h"
#include "client/sharded_client.h"
#include "common/row_limits.h"

namespace paramserver {
namespace {

// The slice of `spec` a shard of `num_shards` holds: its ids, and its share
// of the capacity, rounded up (so a spec with the whole's capacity maps to
// the same slice again).
TableSpec SliceSpec(TableSpec spec, int shard, int num_shards) {
  if (spec.capacity > 0) {
    spec.capacity = (spec.capacity + num_shards - 1) / num_shards;
  }
  spec.id_shard_index = shard;
  spec.id_shard_count = num_shards;
  return spec;
}

// The whole table: the home slice's spec, the slices' capacities and
// counters added up (steps: the largest slice's).
TableStatus MergeSlices(const std::vector<TableStatus>& slices, int home) {
  TableStatus whole = slices[home];
  whole.spec.capacity = 0;
  whole.spec.id_shard_index = 0;
  whole.counters = TableCounters{};
  for (const TableStatus& slice : slices) {
    whole.spec.capacity += slice.spec.capacity;
    TableCounters& sum = whole.counters;
    const TableCounters& add = slice.counters;
    sum.stored_rows += add.stored_rows;
    sum.admitted += add.admitted;
    sum.evicted_idle += add.evicted_idle;
    sum.evicted_capacity += add.evicted_capacity;
    sum.lookup_ids += add.lookup_ids;
    sum.lookup_hits += add.lookup_hits;
    sum.dropped_gradient_rows += add.dropped_gradient_rows;
    // A push reaches several slices, each counting it: the most any slice
    // counted is a lower bound of the table's pushes, not N times them.
    sum.steps = std::max(sum.steps, add.steps);
    sum.bytes += add.bytes;
  }
  return whole;
}

// Every shard but `home`.
std::vector<int> OtherShards(int home, int num_shards) {
  std::vector<int> others;
  for (int shard = 0; shard < num_shards; ++shard) {
    if (shard != home) others.push_back(shard);
  }
  return others;
}

}  // namespace

std::optional<TableSpec> ShardedClient::FindSpreadTable(
    absl::string_view name) const {
  MutexLock lock(&mu_);
  auto it = spread_tables_.find(name);
  if (it == spread_tables_.end()) return std::nullopt;
  return it->second;
}

void ShardedClient::RememberSpreadTable(absl::string_view name,
                                        const TableSpec& spec) {
  MutexLock lock(&mu_);
  spread_tables_[name] = spec;
}

absl::StatusOr<TableStatus> ShardedClient::GetTable(
    const TableRequest& request) {
  const int home = ShardOf(request.name);
  // A table kept whole on its shard: made by a one-server client, or
  // before tables were spread. It is used whole.
  bool whole = num_shards() == 1;
  if (!whole) {
    absl::StatusOr<TableStatus> found =
        shards_[home]->GetTableStats(request.name);
    whole = found.ok() && found->spec.id_shard_count == 1;
  }
  if (whole) {
    TableRequest whole_request = request;
    whole_request.spec.id_shard_index = 0;
    whole_request.spec.id_shard_count = 1;
    absl::StatusOr<TableStatus> table = shards_[home]->GetTable(whole_request);
    if (!table.ok()) return ShardError(home, table.status());
    return table;
  }
  TableRequest home_request = request;
  home_request.spec = SliceSpec(request.spec, home, num_shards());
  absl::StatusOr<TableStatus> home_slice =
      shards_[home]->GetTable(home_request);
  if (!home_slice.ok()) return ShardError(home, home_slice.status());
  // The home slice exists: the table is made. The other slices are made or
  // reused with its seed, so a call that failed half way is completed by
  // the next.
  return WithOtherSlices(request.name, *home_slice, [&](int shard) {
    TableRequest slice_request = request;
    slice_request.reuse = ReuseMode::kAutoReuse;
    slice_request.spec = SliceSpec(request.spec, shard, num_shards());
    slice_request.spec.initializer.seed = home_slice->spec.initializer.seed;
    return shards_[shard]->GetTable(slice_request);
  });
}

absl::StatusOr<TableStatus> ShardedClient::GetTableStats(
    absl::string_view name) {
  const int home = ShardOf(name);
  absl::StatusOr<TableStatus> home_slice = shards_[home]->GetTableStats(name);
  if (!home_slice.ok()) return ShardError(home, home_slice.status());
  const int32_t count = home_slice->spec.id_shard_count;
  if (count == 1) return home_slice;  // Whole on its home shard.
  if (count != num_shards()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Dynamic table ", name, " is spread over ", count,
                     " servers, but this client lists ", num_shards(), "."));
  }
  return WithOtherSlices(name, *home_slice, [&](int shard) {
    return shards_[shard]->GetTableStats(name);
  });
}

absl::StatusOr<TableStatus> ShardedClient::WithOtherSlices(
    absl::string_view name, const TableStatus& home_slice,
    const std::function<absl::StatusOr<TableStatus>(int shard)>& ask) {
  const int home = ShardOf(name);
  std::vector<absl::StatusOr<TableStatus>> slices(
      num_shards(), absl::UnknownError("not asked"));
  slices[home] = home_slice;
  workers_->Run(OtherShards(home, num_shards()), [&](int shard) {
    slices[shard] = ask(shard);
    if (!slices[shard].ok()) {
      slices[shard] = ShardError(shard, slices[shard].status());
    }
  });
  std::vector<TableStatus> statuses;
  for (absl::StatusOr<TableStatus>& slice : slices) {
    if (!slice.ok()) return slice.status();
    statuses.push_back(*std::move(slice));
  }
  RememberSpreadTable(name, home_slice.spec);
  return MergeSlices(statuses, home);
}

bool ShardedClient::LearnSpreadTable(absl::string_view name) {
  if (num_shards() == 1) return false;
  const int home = ShardOf(name);
  absl::StatusOr<TableStatus> home_slice = shards_[home]->GetTableStats(name);
  if (!home_slice.ok() || home_slice->spec.id_shard_count != num_shards()) {
    return false;
  }
  RememberSpreadTable(name, home_slice->spec);
  return true;
}

absl::StatusOr<GatheredRows> ShardedClient::GatherSpread(
    absl::string_view name, const TableSpec& spec,
    absl::Span<const int64_t> ids, TableRead read) {
  if (ids.size() > kMaxRowIdsPerCall) {
    return absl::InvalidArgumentError(absl::StrCat(
        "A gather of ", ids.size(), " ids from ", name, " is more than the ",
        kMaxRowIdsPerCall, " one call may ask for; send fewer ids per call."));
  }
  const int n = num_shards();
  std::vector<std::vector<int64_t>> shard_ids(n);
  std::vector<int32_t> owner(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    owner[i] = IdShardOf(ids[i], n);
    shard_ids[owner[i]].push_back(ids[i]);
  }
  std::vector<int> asked = NonEmpty(shard_ids);
  // An empty call still asks one slice, for its checks and version.
  if (asked.empty()) asked.push_back(ShardOf(name));
  std::vector<absl::StatusOr<GatheredRows>> gathered(
      n, absl::UnknownError("not gathered"));
  workers_->Run(asked, [&](int shard) {
    gathered[shard] = read == TableRead::kPeek
                          ? shards_[shard]->PeekRows(name, shard_ids[shard])
                          : shards_[shard]->GatherRows(name, shard_ids[shard]);
    if (!gathered[shard].ok()) {
      gathered[shard] = ShardError(shard, gathered[shard].status());
    }
  });
  const size_t row_bytes = static_cast<size_t>(spec.width) * sizeof(float);
  GatheredRows result;
  result.info =
      gathered[asked[0]].ok() ? gathered[asked[0]]->info : VariableInfo{};
  result.info.version = 0;
  for (int shard : asked) {
    if (!gathered[shard].ok()) return gathered[shard].status();
    if (gathered[shard]->rows.size() != shard_ids[shard].size() * row_bytes) {
      return absl::DataLossError(absl::StrCat(
          "Shard ", shard, "'s slice of ", name, " answered ",
          gathered[shard]->rows.size(), " bytes for ", shard_ids[shard].size(),
          " rows of ", row_bytes, " bytes."));
    }
    result.info.version += gathered[shard]->info.version;
  }
  if (!result.info.shape.empty()) result.info.shape[0] *= n;
  // Each slice answered its rows in the order of the ids it was asked.
  result.rows.resize(ids.size() * row_bytes);
  std::vector<size_t> next(n, 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    const int shard = owner[i];
    std::memcpy(result.rows.data() + i * row_bytes,
                gathered[shard]->rows.data() + next[shard]++ * row_bytes,
                row_bytes);
  }
  return result;
}

absl::StatusOr<VariableInfo> ShardedClient::PushSpread(
    const RowUpdateSpec& push, const TableSpec& spec) {
  const size_t row_bytes = static_cast<size_t>(spec.width) * sizeof(float);
  if (push.bags || push.base_version || !push.push_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table ", push.name,
                     " takes no bags, base versions or push ids yet."));
  }
  if (push.ids.size() > kMaxRowIdsPerCall) {
    return absl::InvalidArgumentError(
        absl::StrCat("A push of ", push.ids.size(), " ids to ", push.name,
                     " is more than the ", kMaxRowIdsPerCall,
                     " one call may carry; send fewer ids per call."));
  }
  if (push.rows.size() != push.ids.size() * row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Rows for dynamic table ", push.name, " have ", push.rows.size(),
        " bytes; ", push.ids.size(), " ids of rows of ", spec.width,
        " floats need ", push.ids.size() * row_bytes, "."));
  }
  const int n = num_shards();
  std::vector<std::vector<int64_t>> shard_ids(n);
  std::vector<std::string> shard_rows(n);
  for (size_t i = 0; i < push.ids.size(); ++i) {
    const int shard = IdShardOf(push.ids[i], n);
    shard_ids[shard].push_back(push.ids[i]);
    shard_rows[shard].append(push.rows.data() + i * row_bytes, row_bytes);
  }
  std::vector<RowUpdateSpec> slices(n, push);
  std::vector<int> pushed_to = NonEmpty(shard_ids);
  if (pushed_to.empty()) pushed_to.push_back(ShardOf(push.name));
  std::vector<absl::StatusOr<VariableInfo>> pushed(
      n, absl::UnknownError("not pushed"));
  workers_->Run(pushed_to, [&](int shard) {
    slices[shard].ids = shard_ids[shard];
    slices[shard].rows = shard_rows[shard];
    pushed[shard] = shards_[shard]->PushRows(slices[shard]);
    if (!pushed[shard].ok()) {
      pushed[shard] = ShardError(shard, pushed[shard].status());
    }
  });
  VariableInfo info;
  for (int shard : pushed_to) {
    if (!pushed[shard].ok()) return pushed[shard].status();
    if (info.name.empty())
      info = *pushed[shard];
    else
      info.version += pushed[shard]->version;
  }
  if (!info.shape.empty()) info.shape[0] *= n;
  return info;
}

absl::StatusOr<std::vector<std::string>> ShardedClient::DeleteSpreadTable(
    absl::string_view name) {
  const int home = ShardOf(name);
  // The home slice first: once it is gone the table is, and a later
  // creation makes it anew (adopting slices a failed deletion left).
  absl::StatusOr<std::vector<std::string>> deleted =
      shards_[home]->DeleteVariable(name);
  if (!deleted.ok() && !absl::IsNotFound(deleted.status())) {
    return ShardError(home, deleted.status());
  }
  {
    MutexLock lock(&mu_);
    spread_tables_.erase(name);
  }
  // Also when another client deleted the home slice first: the rest go.
  absl::StatusOr<std::vector<std::string>> others = DeleteOtherSlices(name);
  if (!others.ok()) return others.status();
  if (!deleted.ok()) {
    if (others->empty()) return ShardError(home, deleted.status());
    return others;
  }
  return deleted;
}

absl::StatusOr<std::vector<std::string>> ShardedClient::DeleteOtherSlices(
    absl::string_view name) {
  std::vector<absl::Status> statuses(num_shards());
  // char, not bool: the shards' threads write their own elements at once.
  std::vector<char> found(num_shards(), 0);
  workers_->Run(OtherShards(ShardOf(name), num_shards()), [&](int shard) {
    absl::StatusOr<std::vector<std::string>> gone =
        shards_[shard]->DeleteVariable(name);
    if (gone.ok()) {
      found[shard] = 1;
    } else if (!absl::IsNotFound(gone.status())) {
      statuses[shard] = ShardError(shard, gone.status());
    }
  });
  for (const absl::Status& status : statuses) {
    if (!status.ok()) return status;
  }
  if (std::find(found.begin(), found.end(), 1) == found.end()) {
    return std::vector<std::string>{};
  }
  return std::vector<std::string>{std::string(name)};
}

}  // namespace paramserver
