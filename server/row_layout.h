#ifndef PARAM_SERVER_SERVER_ROW_LAYOUT_H_
#define PARAM_SERVER_SERVER_ROW_LAYOUT_H_

// A variable of shape [rows, d1, d2, ...] seen as `rows` rows of
// d1 * d2 * ... elements: the view row operations (gather, sparse pushes)
// take of embedding tables and any other variable of rank 1 or more.

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/variable_spec.h"

namespace paramserver {

struct RowLayout {
  int64_t rows = 0;
  int64_t width = 0;  // Elements per row.
  size_t element_bytes = 0;

  size_t row_bytes() const {
    return static_cast<size_t>(width) * element_bytes;
  }
};

// The layout of `info`'s variable; INVALID_ARGUMENT for a scalar, which has
// no rows.
absl::StatusOr<RowLayout> RowLayoutOf(const VariableInfo& info);

// INVALID_ARGUMENT naming the first id outside [0, layout.rows), in
// TensorFlow's words for gather ("indices[3] = 12 is not in [0, 10)"), and
// the variable; OK for an empty list.
absl::Status CheckRowIds(absl::string_view name, const RowLayout& layout,
                         absl::Span<const int64_t> ids);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_ROW_LAYOUT_H_
