#include "client/partitioning.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/shard_placement.h"
#include "common/bag_check.h"
#include "common/row_limits.h"

namespace paramserver {

absl::StatusOr<PartitionLayout> MakePartitionLayout(
    const VariableRequest& request, int num_partitions,
    absl::string_view full_name) {
  if (num_partitions < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Partitioned variable ", full_name,
        " needs at least one partition, got ", num_partitions, "."));
  }
  if (!request.shape || request.shape->empty() ||
      !NumElements(*request.shape).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Shape of a new partitioned variable (", full_name,
        ") must be fully defined with rank >= 1, but instead was ",
        request.shape ? ShapeToString(*request.shape) : "<unknown>", "."));
  }
  PartitionLayout layout;
  layout.shape = *request.shape;
  layout.dtype = request.dtype.value_or(DType::kFloat);
  layout.trainable = request.trainable;
  layout.rows = PartitionRows(layout.shape[0], num_partitions);
  const TensorShape row_shape(layout.shape.begin() + 1, layout.shape.end());
  const absl::StatusOr<int64_t> row_elements = NumElements(row_shape);
  const int64_t element_bytes = static_cast<int64_t>(DTypeSize(layout.dtype));
  if (!row_elements.ok() || element_bytes == 0 ||
      *row_elements > std::numeric_limits<int64_t>::max() / element_bytes ||
      (*row_elements > 0 &&
       layout.shape[0] > std::numeric_limits<int64_t>::max() /
                             (*row_elements * element_bytes))) {
    return absl::InvalidArgumentError(
        absl::StrCat("Partitioned variable ", full_name, " of shape ",
                     ShapeToString(layout.shape),
                     " has too many bytes to address or an invalid dtype."));
  }
  layout.row_bytes = *row_elements * element_bytes;
  layout.total_bytes = layout.shape[0] * layout.row_bytes;
  return layout;
}

// The part of `spec` that initializes rows [first_row, first_row + rows).
absl::StatusOr<InitializerSpec> PartInitializer(const InitializerSpec& spec,
                                                const TensorShape& shape,
                                                int part, int64_t first_row,
                                                int64_t rows,
                                                absl::string_view full_name) {
  InitializerSpec part_spec = spec;
  part_spec.full_shape = shape;
  if (spec.seed) {
    part_spec.seed = static_cast<int64_t>(static_cast<uint64_t>(*spec.seed) +
                                          static_cast<uint64_t>(part));
  }
  const std::optional<TensorShape> list_shape = ImpliedShape(spec);
  if (spec.kind != InitializerKind::kConstant || !list_shape) return part_spec;
  const absl::StatusOr<int64_t> elements = NumElements(shape);
  if (!elements.ok()) return elements.status();
  const int64_t count = static_cast<int64_t>(spec.values.size());
  if (spec.value_shape.has_value() && *list_shape != shape) {
    return absl::InvalidArgumentError(
        absl::StrCat("The constant initializer of partitioned variable ",
                     full_name, " has shape ", ShapeToString(*list_shape),
                     "; the variable has ", ShapeToString(shape), "."));
  }
  if (*elements > 0 && count > *elements) {
    return absl::InvalidArgumentError(
        absl::StrCat("Too many elements provided. Needed at most ", *elements,
                     ", but received ", count,
                     " (constant initializer of variable ", full_name, ")."));
  }
  // The whole variable is filled as one (the last value repeated to its
  // end); each part gets its rows' share, whose own last value repeats.
  const int64_t row_elements = *elements / std::max<int64_t>(1, shape[0]);
  const int64_t begin = std::min(first_row * row_elements, count - 1);
  const int64_t end = std::min((first_row + rows) * row_elements, count);
  part_spec.values.assign(spec.values.begin() + begin,
                          spec.values.begin() + std::max(begin + 1, end));
  if (spec.value_shape.has_value()) {
    TensorShape part_shape = shape;
    part_shape[0] = rows;
    part_spec.value_shape = part_shape;
  }
  return part_spec;
}

absl::StatusOr<PulledValue> AssembleParts(absl::string_view full_name,
                                          const PartitionLayout& layout,
                                          std::vector<PulledValue> parts) {
  PulledValue whole;
  whole.info = {std::string(full_name), layout.shape, layout.dtype, 0,
                layout.trainable};
  whole.value.reserve(layout.total_bytes);
  for (size_t p = 0; p < parts.size(); ++p) {
    if (static_cast<int64_t>(parts[p].value.size()) !=
            layout.rows[p] * layout.row_bytes ||
        parts[p].info.dtype != layout.dtype) {
      return absl::FailedPreconditionError(absl::StrCat(
          "Partition ", parts[p].info.name, " of ", full_name, " has shape ",
          ShapeToString(parts[p].info.shape), " and dtype ",
          DTypeName(parts[p].info.dtype),
          ", which no longer fit the variable's ", ShapeToString(layout.shape),
          " split in ", layout.rows.size(), " parts."));
    }
    whole.info.version += parts[p].info.version;
    whole.value += parts[p].value;
  }
  return whole;
}

std::string DescriptorName(absl::string_view full_name) {
  return absl::StrCat(full_name, "/.partitions");
}

std::vector<int64_t> EncodeDescriptor(const PartitionLayout& layout) {
  std::vector<int64_t> values = {
      kDescriptorFormat, static_cast<int64_t>(layout.rows.size()),
      static_cast<int64_t>(layout.dtype), layout.trainable ? 1 : 0,
      static_cast<int64_t>(layout.shape.size())};
  values.insert(values.end(), layout.shape.begin(), layout.shape.end());
  return values;
}

absl::StatusOr<PartitionLayout> DecodeDescriptor(absl::string_view value,
                                                 absl::string_view full_name) {
  std::vector<int64_t> v(value.size() / sizeof(int64_t));
  if (!v.empty()) std::memcpy(v.data(), value.data(), v.size() * 8);
  const auto damaged = [&] {
    return absl::DataLossError(
        absl::StrCat("The layout of partitioned variable ", full_name, " (",
                     DescriptorName(full_name),
                     ") does not decode; delete the variable "
                     "and create it again."));
  };
  if (value.size() % sizeof(int64_t) != 0 || v.size() < 5 ||
      v[0] != kDescriptorFormat || v[1] < 1 || v[1] > (int64_t{1} << 20) ||
      v[2] < 0 || v[2] > std::numeric_limits<int>::max() ||
      !IsValidDType(static_cast<int>(v[2])) || v[4] < 1 ||
      static_cast<int64_t>(v.size()) != 5 + v[4]) {
    return damaged();
  }
  VariableRequest request;
  request.shape = TensorShape(v.begin() + 5, v.end());
  request.dtype = static_cast<DType>(v[2]);
  request.trainable = v[3] != 0;
  absl::StatusOr<PartitionLayout> layout =
      MakePartitionLayout(request, static_cast<int>(v[1]), full_name);
  if (!layout.ok() || static_cast<int64_t>(layout->rows.size()) != v[1]) {
    return damaged();
  }
  return layout;
}

namespace {

// TensorFlow's partitions list: [parts, 1, 1, ...], one entry per axis.
std::string PartitionsString(const PartitionLayout& layout) {
  std::vector<int64_t> partitions(layout.shape.size(), 1);
  partitions[0] = static_cast<int64_t>(layout.rows.size());
  return absl::StrCat("[", absl::StrJoin(partitions, ", "), "]");
}

}  // namespace

absl::Status CheckReusedLayout(const PartitionLayout& requested,
                               const PartitionLayout& found,
                               absl::string_view full_name) {
  if (requested.shape != found.shape) {
    return absl::InvalidArgumentError(
        absl::StrCat("Trying to reuse partitioned variable ", full_name,
                     ", but specified shape ", ShapeToString(requested.shape),
                     " and found shape ", ShapeToString(found.shape), "."));
  }
  if (requested.dtype != found.dtype) {
    return absl::InvalidArgumentError(
        absl::StrCat("Trying to reuse partitioned variable ", full_name,
                     ", but specified dtype ", DTypeName(requested.dtype),
                     " and found dtype ", DTypeName(found.dtype), "."));
  }
  if (requested.rows.size() != found.rows.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Trying to reuse partitioned variable ", full_name,
                     ", but specified partitions ", PartitionsString(requested),
                     " and found partitions ", PartitionsString(found), "."));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PartRow>> PlaceIds(const PartitionLayout& layout,
                                              absl::Span<const int64_t> ids,
                                              PartitionStrategy strategy,
                                              absl::string_view full_name) {
  const int64_t n = layout.shape.empty() ? 0 : layout.shape[0];
  const int64_t p = static_cast<int64_t>(layout.rows.size());
  // TF's div arithmetic (embedding_ops.py): the first `extras` parts hold
  // ids_per_part + 1 rows, the others ids_per_part.
  const int64_t ids_per_part = p > 0 ? n / p : 0;
  const int64_t extras = p > 0 ? n % p : 0;
  const int64_t long_ids = extras * (ids_per_part + 1);
  std::vector<PartRow> placed(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t id = ids[i];
    if (id < 0 || id >= n) {
      return absl::InvalidArgumentError(
          absl::StrCat("indices[", i, "] = ", id, " is not in [0, ", n,
                       "): ", full_name, " has ", n, " rows."));
    }
    PartRow& where = placed[i];
    if (strategy == PartitionStrategy::kMod) {
      where = {static_cast<int>(id % p), id / p};
    } else if (id < long_ids) {
      where = {static_cast<int>(id / (ids_per_part + 1)),
               id % (ids_per_part + 1)};
    } else {
      where = {static_cast<int>(extras + (id - long_ids) / ids_per_part),
               (id - long_ids) % ids_per_part};
    }
    if (where.row >= layout.rows[where.part]) {
      return absl::FailedPreconditionError(
          absl::StrCat(full_name,
                       "'s parts are not split as tf.fixed_size_partitioner "
                       "splits: part ",
                       where.part, " has ", layout.rows[where.part],
                       " rows, not row ", where.row, "."));
    }
  }
  return placed;
}

absl::StatusOr<std::vector<PartBags>> SplitBags(const PartitionLayout& layout,
                                                absl::Span<const int64_t> ids,
                                                const BagSpec& bags,
                                                PartitionStrategy strategy,
                                                absl::string_view full_name) {
  if (layout.dtype != DType::kFloat) {
    return absl::InvalidArgumentError(
        absl::StrCat("Pooled lookups need a float32 table; ", full_name, " is ",
                     DTypeName(layout.dtype), "."));
  }
  if (absl::Status s = CheckBags(bags, ids.size()); !s.ok()) return s;
  // One server's limits, over the whole call: then no part can refuse its
  // share after another applied its own.
  const size_t row_bytes = static_cast<size_t>(layout.row_bytes);
  if (ids.size() > kMaxRowIdsPerCall) {
    return absl::InvalidArgumentError(
        absl::StrCat("A pooled call may carry at most ", kMaxRowIdsPerCall,
                     " ids; this one has ", ids.size(), "."));
  }
  if (row_bytes > 0 && ids.size() > kMaxGatherBytes / row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Pooling ", ids.size(), " ids of ", full_name, " (", row_bytes,
        " bytes each) would touch more than ", kMaxGatherBytes,
        " bytes of rows, the most one call may; send fewer ids per call."));
  }
  absl::StatusOr<std::vector<PartRow>> placed =
      PlaceIds(layout, ids, strategy, full_name);
  if (!placed.ok()) return placed.status();
  std::vector<PartBags> parts(layout.rows.size());
  for (size_t b = 0; b < bags.offsets.size(); ++b) {
    const size_t begin = static_cast<size_t>(bags.offsets[b]);
    const size_t end = BagEnd(bags, b, ids.size());
    const float divisor = BagDivisor(bags, begin, end);
    for (size_t k = begin; k < end; ++k) {
      const PartRow& where = (*placed)[k];
      PartBags& part = parts[where.part];
      if (part.bags.empty() || part.bags.back() != static_cast<int64_t>(b)) {
        part.offsets.push_back(static_cast<int64_t>(part.rows.size()));
        part.bags.push_back(static_cast<int64_t>(b));
      }
      part.rows.push_back(where.row);
      part.weights.push_back(BagWeight(bags, k) / divisor);
    }
  }
  return parts;
}

}  // namespace paramserver
