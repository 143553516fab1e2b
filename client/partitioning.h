#ifndef PARAM_SERVER_CLIENT_PARTITIONING_H_
#define PARAM_SERVER_CLIENT_PARTITIONING_H_

// The arithmetic of a variable partitioned along its first axis, as
// tf.fixed_size_partitioner splits it (client/sharded_client.h says where
// the parts live): pure functions, no RPC.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "client/variable_client.h"
#include "common/dtype.h"
#include "common/initializer_spec.h"
#include "common/tensor_shape.h"
#include "common/update_spec.h"
#include "common/variable_spec.h"

namespace paramserver {

// How a partitioned variable is split.
struct PartitionLayout {
  TensorShape shape;
  DType dtype = DType::kFloat;
  bool trainable = true;
  std::vector<int64_t> rows;  // Per part.
  int64_t row_bytes = 0;
  int64_t total_bytes = 0;
};

// The layout of `request` (named `full_name` in messages) over
// min(num_partitions, shape[0]) parts. INVALID_ARGUMENT for fewer than one
// partition, a shape that is not fully defined with rank >= 1, or a size
// in bytes that does not fit int64.
absl::StatusOr<PartitionLayout> MakePartitionLayout(
    const VariableRequest& request, int num_partitions,
    absl::string_view full_name);

// The part of `spec` that initializes rows [first_row, first_row + rows) of
// a variable of `shape`, as part `part`: fans from the whole shape, seed +
// part, a constant list's share of the rows. INVALID_ARGUMENT when a
// constant does not fit the whole variable.
absl::StatusOr<InitializerSpec> PartInitializer(const InitializerSpec& spec,
                                                const TensorShape& shape,
                                                int part, int64_t first_row,
                                                int64_t rows,
                                                absl::string_view full_name);

// ---- The committed layout ----
//
// A partitioned variable exists once its descriptor does: the int64 variable
// DescriptorName(full_name) on the shard that holds full_name, created (with
// CREATE, so exactly once) only after every part exists. Its value is
// [kDescriptorFormat, parts, dtype, trainable, rank, dims...]. Readers see
// a partitioned variable only through its descriptor, so a creation that
// failed half-way is invisible (its parts are adopted by the next creation
// or removed by deleting the whole name).

inline constexpr int64_t kDescriptorFormat = 1;

// "full_name/.partitions".
std::string DescriptorName(absl::string_view full_name);

// The descriptor's values.
std::vector<int64_t> EncodeDescriptor(const PartitionLayout& layout);

// The layout a descriptor's raw value (little-endian int64s) records;
// DATA_LOSS naming `full_name` when it does not decode.
absl::StatusOr<PartitionLayout> DecodeDescriptor(absl::string_view value,
                                                 absl::string_view full_name);

// TensorFlow's checks when `requested` (num_partitions parts) reuses the
// committed `found`: shape, dtype, then the number of parts, each
// INVALID_ARGUMENT with TF 1.x's wording.
absl::Status CheckReusedLayout(const PartitionLayout& requested,
                               const PartitionLayout& found,
                               absl::string_view full_name);

// Where embedding_lookup finds global row `ids[i]` of a variable split as
// `layout`: part and row within it, by `strategy` (PartitionStrategy).
// INVALID_ARGUMENT in TensorFlow's words, naming `full_name`, for an id
// outside [0, shape[0]).
struct PartRow {
  int part = 0;
  int64_t row = 0;
};
absl::StatusOr<std::vector<PartRow>> PlaceIds(const PartitionLayout& layout,
                                              absl::Span<const int64_t> ids,
                                              PartitionStrategy strategy,
                                              absl::string_view full_name);

// A pooled lookup's bags (embedding_lookup_sparse) over a variable split as
// `layout`, for one part: the sub-bags of the ids it holds, bag by bag. Each
// id's weight is divided by its whole bag's divisor (BagDivisor over all of
// the bag's ids), so pooling each part's sub-bags with the sum combiner and
// adding the parts' rows gives every bag's row as the bag's own combiner
// would (to rounding), and the same weights give each id its share of the
// bag's gradient. A part that holds no id of a bag has no sub-bag for it.
struct PartBags {
  std::vector<int64_t> rows;     // Rows within the part, bag by bag.
  std::vector<int64_t> offsets;  // Where each sub-bag starts in `rows`.
  std::vector<float> weights;    // One per row: weight / bag divisor.
  std::vector<int64_t> bags;     // The bag each sub-bag belongs to.
};

// One PartBags per part. INVALID_ARGUMENT (naming `full_name`) for bags that
// do not describe the ids (CheckBags), more ids or bytes of their rows than
// one server takes in a call (common/row_limits.h), an id out of range
// (PlaceIds) or a variable that is not float32. A bag whose weights sum to
// zero (mean) divides by zero as TensorFlow does, but here each weight
// first: where one server's row is +-inf, the parts' sum may be NaN.
absl::StatusOr<std::vector<PartBags>> SplitBags(const PartitionLayout& layout,
                                                absl::Span<const int64_t> ids,
                                                const BagSpec& bags,
                                                PartitionStrategy strategy,
                                                absl::string_view full_name);

// Joins the parts' pulled values into the whole, whose version is the sum
// of the parts'; FAILED_PRECONDITION when a part's size or dtype no longer
// matches the layout.
absl::StatusOr<PulledValue> AssembleParts(absl::string_view full_name,
                                          const PartitionLayout& layout,
                                          std::vector<PulledValue> parts);

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_PARTITIONING_H_
