#include "server/row_layout.h"

#include "absl/strings/str_cat.h"
#include "common/tensor_shape.h"

namespace paramserver {

absl::StatusOr<RowLayout> RowLayoutOf(const VariableInfo& info) {
  if (info.shape.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Row operations need a variable of rank 1 or more; ",
                     info.name, " is a scalar."));
  }
  const absl::Span<const int64_t> row_shape =
      absl::Span<const int64_t>(info.shape).subspan(1);
  absl::StatusOr<int64_t> width = NumElements(row_shape);
  if (!width.ok()) return width.status();
  // A table of no rows may have rows too large to address (shape
  // [0, 2^62]); its row size must not wrap around.
  if (absl::StatusOr<uint64_t> bytes = ValueByteSize(row_shape, info.dtype);
      !bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("The rows of ", info.name,
                     " are too large to address: ", bytes.status().message()));
  }
  RowLayout layout;
  layout.rows = info.shape[0];
  layout.width = *width;
  layout.element_bytes = DTypeSize(info.dtype);
  return layout;
}

absl::Status CheckRowIds(absl::string_view name, const RowLayout& layout,
                         absl::Span<const int64_t> ids) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= layout.rows) {
      return absl::InvalidArgumentError(absl::StrCat(
          "indices[", i, "] = ", ids[i], " is not in [0, ", layout.rows,
          "): ", name, " has ", layout.rows, " rows."));
    }
  }
  return absl::OkStatus();
}

}  // namespace paramserver
