// VariableStore's pooled lookups (embedding_lookup_sparse) and the pushes
// of their gradients: server/bags.h does the arithmetic.

#include <string>

#include "absl/strings/str_cat.h"
#include "server/bags.h"
#include "server/row_layout.h"
#include "server/variable_store.h"
#include "server/variable_store_updates.h"

namespace paramserver {
namespace {

// The row layout of a float32 variable; INVALID_ARGUMENT otherwise.
absl::StatusOr<RowLayout> FloatRows(const Variable& variable) {
  if (variable.dtype() != DType::kFloat) {
    return absl::InvalidArgumentError(
        absl::StrCat("Pooled lookups take float32 tables; ", variable.name(),
                     " is ", DTypeName(variable.dtype()), "."));
  }
  return store_internal::LayoutOf(variable);
}

// Pooling reads, and a bag gradient is spread to, one row per id: at most
// what one gather may return, so a small request cannot make the server
// read or allocate without bound.
absl::Status CheckPooledIds(absl::string_view name, size_t ids,
                            size_t row_bytes) {
  if (row_bytes == 0 || ids <= kMaxGatherBytes / row_bytes) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "Pooling ", ids, " ids of ", name, " (", row_bytes,
      " bytes each) would touch more than ", kMaxGatherBytes,
      " bytes of rows, the most one call may; send fewer ids per call."));
}

}  // namespace

absl::StatusOr<VariableStore::GatherResult> VariableStore::LookupSparse(
    absl::string_view full_name, absl::Span<const int64_t> ids,
    const BagSpec& bags) {
  if (FindTable(full_name) != nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("Pooled lookups of dynamic table ", full_name,
                     " are not supported yet; gather its rows and pool them."));
  }
  if (ids.size() > kMaxRowIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("A lookup may carry at most ", kMaxRowIds,
                     " ids; this one has ", ids.size(), "."));
  }
  if (absl::Status s = CheckBags(bags, ids.size()); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<Variable>> found = Find(full_name);
  if (!found.ok()) return found.status();
  Variable& variable = **found;
  absl::StatusOr<RowLayout> layout = FloatRows(variable);
  if (!layout.ok()) return layout.status();
  const size_t row_bytes = layout->row_bytes();
  if (row_bytes > 0 && bags.offsets.size() > kMaxGatherBytes / row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Pooling ", bags.offsets.size(), " bags of ", full_name, " (",
        row_bytes, " bytes each) would return more than ", kMaxGatherBytes,
        " bytes, the most one call returns; send fewer bags per call."));
  }
  if (absl::Status s = CheckPooledIds(full_name, ids.size(), row_bytes);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRowIds(full_name, *layout, ids); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<TensorBuffer>> rows = AllocateReply(
      bags.offsets.size() * row_bytes,
      absl::StrCat("Pooling ", bags.offsets.size(), " bags of ", full_name));
  if (!rows.ok()) return rows.status();
  GatherResult result;
  absl::Status status = variable.LockForUpdate();
  if (status.ok()) {
    result.info = variable.InfoLocked();
    PoolRows(bags, ids,
             reinterpret_cast<const float*>(variable.ValueLocked().data()),
             layout->width, reinterpret_cast<float*>((*rows)->data()));
  }
  variable.Unlock();
  if (!status.ok()) return status;
  result.rows = *std::move(rows);
  return result;
}

absl::StatusOr<VariableInfo> VariableStore::PushBagGradient(
    const RowUpdateSpec& push) {
  if (push.kind != UpdateKind::kApplyGradient) {
    return absl::InvalidArgumentError(
        absl::StrCat("Rows per bag are the gradient of a pooled lookup of ",
                     push.name, ": push them with APPLY_GRADIENT."));
  }
  if (absl::Status s = CheckBags(*push.bags, push.ids.size()); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::shared_ptr<Variable>> found = Find(push.name);
  if (!found.ok()) return found.status();
  absl::StatusOr<RowLayout> layout = FloatRows(**found);
  if (!layout.ok()) return layout.status();
  const size_t bags = push.bags->offsets.size();
  const size_t row_bytes = layout->row_bytes();
  if (absl::Status s = CheckPooledIds(push.name, push.ids.size(), row_bytes);
      !s.ok()) {
    return s;
  }
  // Divided rather than multiplied: bags * row_bytes may not fit.
  const bool one_row_per_bag = row_bytes == 0
                                   ? push.rows.empty()
                                   : push.rows.size() % row_bytes == 0 &&
                                         push.rows.size() / row_bytes == bags;
  if (!one_row_per_bag) {
    return absl::InvalidArgumentError(
        absl::StrCat("Rows for ", push.name, " have ", push.rows.size(),
                     " bytes; ", bags, " bags of rows of ", layout->row_bytes(),
                     " bytes need ", bags * layout->row_bytes(), "."));
  }
  // PushRows checks the ids, as for any row push.
  const std::string spread =
      SpreadBagGradient(*push.bags, push.ids.size(), push.rows, layout->width);
  RowUpdateSpec per_id = push;
  per_id.bags.reset();
  per_id.rows = spread;
  return PushRowsOnce(per_id);
}

}  // namespace paramserver
