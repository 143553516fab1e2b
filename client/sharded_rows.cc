// ShardedClient's row operations: gathers, pooled lookups and sparse pushes
// by global id over partitioned variables, as tf.nn.embedding_lookup,
// tf.nn.embedding_lookup_sparse and their gradients.

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/embedding_rows.h"
#include "client/partitioning.h"
#include "client/shard_placement.h"
#include "client/shard_workers.h"
#include "client/sharded_client.h"
#include "common/row_limits.h"

namespace paramserver {

std::vector<std::vector<int>> ShardedClient::PartsByShard(
    absl::string_view full_name, int num_parts) const {
  std::vector<std::vector<int>> parts(num_shards());
  for (int p = 0; p < num_parts; ++p) {
    parts[ShardForPartition(full_name, p, num_shards())].push_back(p);
  }
  return parts;
}

absl::StatusOr<GatheredRows> ShardedClient::EmbeddingLookup(
    absl::string_view full_name, absl::Span<const int64_t> ids,
    PartitionStrategy strategy, std::optional<double> max_norm) {
  std::optional<Layout> layout = FindLayout(full_name);
  if (!layout) {
    absl::StatusOr<GatheredRows> gathered =
        VariableClient::EmbeddingLookup(full_name, ids, strategy, max_norm);
    // GatherRows learns a layout another client committed.
    layout = FindLayout(full_name);
    if (!layout) return gathered;
  }
  absl::StatusOr<GatheredRows> gathered =
      LookupPartitioned(full_name, *layout, ids, strategy);
  if (!gathered.ok() || !max_norm) return gathered;
  if (absl::Status s =
          ClipRowsByNorm(layout->dtype, static_cast<size_t>(layout->row_bytes),
                         *max_norm, full_name, gathered->rows);
      !s.ok()) {
    return s;
  }
  return gathered;
}

absl::StatusOr<GatheredRows> ShardedClient::LookupPartitioned(
    absl::string_view full_name, const Layout& layout,
    absl::Span<const int64_t> ids, PartitionStrategy strategy) {
  absl::StatusOr<std::vector<PartRow>> placed =
      PlaceIds(layout, ids, strategy, full_name);
  if (!placed.ok()) return placed.status();
  const int num_parts = static_cast<int>(layout.rows.size());
  std::vector<std::vector<int64_t>> part_ids(num_parts);
  for (const PartRow& where : *placed) {
    part_ids[where.part].push_back(where.row);
  }
  const std::vector<std::vector<int>> parts_of_shard =
      PartsByShard(full_name, num_parts);
  std::vector<absl::StatusOr<GatheredRows>> gathered(
      num_parts, absl::UnknownError("not gathered"));
  workers_->Run(NonEmpty(parts_of_shard), [&](int shard) {
    for (int p : parts_of_shard[shard]) {
      gathered[p] =
          shards_[shard]->GatherRows(PartitionName(full_name, p), part_ids[p]);
      if (!gathered[p].ok()) {
        gathered[p] = ShardError(shard, gathered[p].status());
        return;
      }
    }
  });
  const size_t row_bytes = static_cast<size_t>(layout.row_bytes);
  GatheredRows result;
  result.info = {std::string(full_name), layout.shape, layout.dtype, 0,
                 layout.trainable};
  for (int p = 0; p < num_parts; ++p) {
    if (!gathered[p].ok()) return gathered[p].status();
    if (gathered[p]->rows.size() != part_ids[p].size() * row_bytes) {
      return absl::DataLossError(
          absl::StrCat(PartitionName(full_name, p), " answered ",
                       gathered[p]->rows.size(), " bytes for ",
                       part_ids[p].size(), " rows of ", row_bytes, " bytes."));
    }
    result.info.version += gathered[p]->info.version;
  }
  // Each part answered its rows in the order of the ids placed on it.
  result.rows.resize(ids.size() * row_bytes);
  std::vector<size_t> next(num_parts, 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    const int p = (*placed)[i].part;
    std::memcpy(result.rows.data() + i * row_bytes,
                gathered[p]->rows.data() + next[p]++ * row_bytes, row_bytes);
  }
  return result;
}

absl::StatusOr<GatheredRows> ShardedClient::LookupSparse(
    absl::string_view full_name, absl::Span<const int64_t> ids,
    const BagSpec& bags) {
  return LookupSparse(full_name, ids, bags, PartitionStrategy::kMod);
}

absl::StatusOr<GatheredRows> ShardedClient::LookupSparse(
    absl::string_view full_name, absl::Span<const int64_t> ids,
    const BagSpec& bags, PartitionStrategy strategy) {
  if (std::optional<Layout> layout = FindLayout(full_name)) {
    return PoolPartitioned(full_name, *layout, ids, bags, strategy);
  }
  const int shard = ShardOf(full_name);
  absl::StatusOr<GatheredRows> pooled =
      shards_[shard]->LookupSparse(full_name, ids, bags);
  if (pooled.ok()) return pooled;
  absl::Status status = ShardError(shard, pooled.status());
  // Maybe partitioned by another client: pool over its parts.
  if (absl::IsNotFound(status) && LearnLayouts({std::string(full_name)})) {
    return LookupSparse(full_name, ids, bags, strategy);
  }
  return status;
}

absl::StatusOr<GatheredRows> ShardedClient::PoolPartitioned(
    absl::string_view full_name, const Layout& layout,
    absl::Span<const int64_t> ids, const BagSpec& bags,
    PartitionStrategy strategy) {
  absl::StatusOr<std::vector<PartBags>> split =
      SplitBags(layout, ids, bags, strategy, full_name);
  if (!split.ok()) return split.status();
  const size_t row_bytes = static_cast<size_t>(layout.row_bytes);
  if (row_bytes > 0 && bags.offsets.size() > kMaxGatherBytes / row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Pooling ", bags.offsets.size(), " bags of ", full_name, " (",
        row_bytes, " bytes each) would return more than ", kMaxGatherBytes,
        " bytes, the most one call returns; send fewer bags per call."));
  }
  const int num_parts = static_cast<int>(layout.rows.size());
  const std::vector<std::vector<int>> parts_of_shard =
      PartsByShard(full_name, num_parts);
  std::vector<absl::StatusOr<GatheredRows>> pooled(
      num_parts, absl::UnknownError("not pooled"));
  workers_->Run(NonEmpty(parts_of_shard), [&](int shard) {
    for (int p : parts_of_shard[shard]) {
      const PartBags& part = (*split)[p];
      const std::string name = PartitionName(full_name, p);
      // A part that holds no id is asked only for its version.
      pooled[p] =
          part.bags.empty()
              ? shards_[shard]->GatherRows(name, {})
              : shards_[shard]->LookupSparse(
                    name, part.rows,
                    BagSpec{part.offsets, part.weights, Combiner::kSum});
      if (!pooled[p].ok()) {
        pooled[p] = ShardError(shard, pooled[p].status());
        return;
      }
    }
  });
  const size_t width = static_cast<size_t>(layout.row_bytes) / sizeof(float);
  GatheredRows result;
  result.info = {std::string(full_name), layout.shape, layout.dtype, 0,
                 layout.trainable};
  result.rows.assign(bags.offsets.size() * width * sizeof(float), '\0');
  float* out = reinterpret_cast<float*>(result.rows.data());
  for (int p = 0; p < num_parts; ++p) {
    if (!pooled[p].ok()) return pooled[p].status();
    const std::vector<int64_t>& part_bags = (*split)[p].bags;
    if (pooled[p]->rows.size() != part_bags.size() * width * sizeof(float)) {
      return absl::DataLossError(absl::StrCat(
          PartitionName(full_name, p), " answered ", pooled[p]->rows.size(),
          " bytes for ", part_bags.size(), " bags of ", width, " floats."));
    }
    result.info.version += pooled[p]->info.version;
    // The rows may sit at any alignment in the answer: add them bytewise.
    for (size_t j = 0; j < part_bags.size(); ++j) {
      float* bag = out + part_bags[j] * width;
      const char* row = pooled[p]->rows.data() + j * width * sizeof(float);
      for (size_t c = 0; c < width; ++c) {
        float value;
        std::memcpy(&value, row + c * sizeof(float), sizeof(float));
        bag[c] += value;
      }
    }
  }
  return result;
}

absl::StatusOr<VariableInfo> ShardedClient::PushRows(
    const RowUpdateSpec& push) {
  if (std::optional<Layout> layout = FindLayout(push.name)) {
    return PushPartitionedRows(push, *layout);
  }
  if (std::optional<TableSpec> table = FindSpreadTable(push.name)) {
    return PushSpread(push, *table);
  }
  const int shard = ShardOf(push.name);
  absl::StatusOr<VariableInfo> pushed = shards_[shard]->PushRows(push);
  if (pushed.ok()) return pushed;
  absl::Status status = ShardError(shard, pushed.status());
  // A table spread over the shards by another client: its ids go to their
  // slices (a refused push changed nothing).
  if (absl::IsFailedPrecondition(status) && LearnSpreadTable(push.name)) {
    return PushRows(push);
  }
  // Maybe partitioned by another client: push to its parts.
  if (absl::IsNotFound(status) && LearnLayouts({push.name})) {
    return PushRows(push);
  }
  return status;
}

absl::StatusOr<VariableInfo> ShardedClient::PushPartitionedRows(
    const RowUpdateSpec& push, const Layout& layout) {
  if (push.base_version) {
    return absl::InvalidArgumentError(
        absl::StrCat("Bounded staleness needs an unpartitioned variable; ",
                     push.name, " is partitioned."));
  }
  if (push.bags) return PushPartitionedBags(push, layout);
  const size_t row_bytes = static_cast<size_t>(layout.row_bytes);
  if (push.rows.size() != push.ids.size() * row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Rows for ", push.name, " have ", push.rows.size(), " bytes; ",
        push.ids.size(), " ids of rows of ", row_bytes, " bytes (shape ",
        ShapeToString(layout.shape), ", dtype ", DTypeName(layout.dtype),
        ") need ", push.ids.size() * row_bytes, "."));
  }
  absl::StatusOr<std::vector<PartRow>> placed =
      PlaceIds(layout, push.ids, push.partition_strategy, push.name);
  if (!placed.ok()) return placed.status();
  const int num_parts = static_cast<int>(layout.rows.size());
  std::vector<std::vector<int64_t>> part_ids(num_parts);
  std::vector<std::string> part_rows(num_parts);
  for (size_t i = 0; i < placed->size(); ++i) {
    const PartRow& where = (*placed)[i];
    part_ids[where.part].push_back(where.row);
    part_rows[where.part].append(push.rows.data() + i * row_bytes, row_bytes);
  }
  // A part with no rows is pushed nothing, which only reads its version.
  std::vector<RowUpdateSpec> parts(num_parts, push);
  for (int p = 0; p < num_parts; ++p) {
    parts[p].name = PartitionName(push.name, p);
    parts[p].ids = part_ids[p];
    parts[p].rows = part_rows[p];
  }
  return PushParts(push.name, layout, parts);
}

absl::StatusOr<VariableInfo> ShardedClient::PushParts(
    absl::string_view full_name, const Layout& layout,
    const std::vector<RowUpdateSpec>& parts) {
  const int num_parts = static_cast<int>(parts.size());
  // Each part is its own push on its shard, so each gets its own id: part
  // p's is "<push_id>/<p>", and a retry of the whole push applies only the
  // parts that were not applied.
  std::vector<std::string> part_ids(num_parts);
  for (int p = 0; p < num_parts; ++p) {
    if (parts[p].push_id.empty()) continue;
    part_ids[p] = absl::StrCat(parts[p].push_id, "/", p);
    if (part_ids[p].size() > kMaxPushIdBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "push_id ", parts[p].push_id, " is too long for a push to the ",
          num_parts, " parts of ", full_name, ": part ", p, "'s id, ",
          part_ids[p], ", has ", part_ids[p].size(), " bytes; at most ",
          kMaxPushIdBytes, " are allowed."));
    }
  }
  const std::vector<std::vector<int>> parts_of_shard =
      PartsByShard(full_name, num_parts);
  std::vector<absl::StatusOr<VariableInfo>> pushed(
      num_parts, absl::UnknownError("not pushed"));
  workers_->Run(NonEmpty(parts_of_shard), [&](int shard) {
    for (int p : parts_of_shard[shard]) {
      RowUpdateSpec part = parts[p];
      part.push_id = part_ids[p];
      pushed[p] = shards_[shard]->PushRows(part);
      if (!pushed[p].ok()) pushed[p] = ShardError(shard, pushed[p].status());
    }
  });
  VariableInfo info{std::string(full_name), layout.shape, layout.dtype, 0,
                    layout.trainable};
  for (int p = 0; p < num_parts; ++p) {
    if (!pushed[p].ok()) return pushed[p].status();
    info.version += pushed[p]->version;
  }
  return info;
}

absl::StatusOr<VariableInfo> ShardedClient::PushPartitionedBags(
    const RowUpdateSpec& push, const Layout& layout) {
  if (push.kind != UpdateKind::kApplyGradient) {
    return absl::InvalidArgumentError(
        absl::StrCat("Rows per bag are the gradient of a pooled lookup of ",
                     push.name, ": push them with APPLY_GRADIENT."));
  }
  absl::StatusOr<std::vector<PartBags>> split = SplitBags(
      layout, push.ids, *push.bags, push.partition_strategy, push.name);
  if (!split.ok()) return split.status();
  const size_t row_bytes = static_cast<size_t>(layout.row_bytes);
  const size_t num_bags = push.bags->offsets.size();
  if (push.rows.size() != num_bags * row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The gradient of ", num_bags, " bags of ", push.name, " is ", num_bags,
        " rows of ", row_bytes, " bytes (", num_bags * row_bytes, "); got ",
        push.rows.size(), " bytes."));
  }
  const int num_parts = static_cast<int>(layout.rows.size());
  std::vector<std::string> part_rows(num_parts);
  for (int p = 0; p < num_parts; ++p) {
    for (int64_t bag : (*split)[p].bags) {
      part_rows[p].append(push.rows.data() + bag * row_bytes, row_bytes);
    }
  }
  // A part that holds no id is pushed nothing, which only reads its version.
  std::vector<RowUpdateSpec> parts(num_parts, push);
  for (int p = 0; p < num_parts; ++p) {
    const PartBags& split_part = (*split)[p];
    parts[p].name = PartitionName(push.name, p);
    parts[p].ids = split_part.rows;
    parts[p].rows = part_rows[p];
    parts[p].bags.reset();
    if (!split_part.bags.empty()) {
      parts[p].bags =
          BagSpec{split_part.offsets, split_part.weights, Combiner::kSum};
    }
  }
  return PushParts(push.name, layout, parts);
}

}  // namespace paramserver
