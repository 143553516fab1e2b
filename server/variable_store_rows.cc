// Row operations of VariableStore: gather.

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "server/row_layout.h"
#include "server/variable_store.h"

namespace paramserver {

absl::StatusOr<VariableStore::GatherResult> VariableStore::GatherRows(
    absl::string_view full_name, absl::Span<const int64_t> ids) {
  absl::StatusOr<std::shared_ptr<Variable>> found = Find(full_name);
  if (!found.ok()) return found.status();
  Variable& variable = **found;
  // Name, shape and dtype never change, so ids are checked before locking.
  VariableInfo fixed;
  fixed.name = variable.name();
  fixed.shape = variable.shape();
  fixed.dtype = variable.dtype();
  absl::StatusOr<RowLayout> layout = RowLayoutOf(fixed);
  if (!layout.ok()) return layout.status();
  const size_t row_bytes = layout->row_bytes();
  if (row_bytes > 0 && ids.size() > kMaxGatherBytes / row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Gathering ", ids.size(), " rows of ", full_name, " (", row_bytes,
        " bytes each) would return more than ", kMaxGatherBytes,
        " bytes, the most one call returns; gather fewer rows per call."));
  }
  if (absl::Status s = CheckRowIds(full_name, *layout, ids); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<TensorBuffer>> rows =
      TensorBuffer::Allocate(ids.size() * row_bytes);
  if (!rows.ok()) return rows.status();
  GatherResult result;
  // Under the variable's lock rather than from a snapshot: a snapshot held
  // while rows are copied would make a concurrent push copy the whole table.
  absl::Status status = variable.LockForUpdate();
  if (status.ok()) {
    result.info = variable.InfoLocked();
    const char* table = variable.ValueLocked().data();
    char* out = (*rows)->data();
    for (const int64_t id : ids) {
      std::memcpy(out, table + id * row_bytes, row_bytes);
      out += row_bytes;
    }
  }
  variable.Unlock();
  if (!status.ok()) return status;
  result.rows = *std::move(rows);
  return result;
}

}  // namespace paramserver
