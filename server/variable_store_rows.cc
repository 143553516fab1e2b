// Row operations of VariableStore: gather, sparse pushes and their replay.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/row_layout.h"
#include "server/sparse_optimizer.h"
#include "server/variable_store.h"
#include "server/variable_store_updates.h"

namespace paramserver {
namespace store_internal {

absl::StatusOr<RowLayout> LayoutOf(const Variable& variable) {
  VariableInfo fixed;
  fixed.name = variable.name();
  fixed.shape = variable.shape();
  fixed.dtype = variable.dtype();
  return RowLayoutOf(fixed);
}

}  // namespace store_internal

namespace {

using store_internal::AssignAdd;
using store_internal::CheckStaleness;
using store_internal::CheckUpdateKind;
using store_internal::LayoutOf;
using store_internal::RestoreValues;
using store_internal::SavedValue;
using store_internal::SaveValues;
using store_internal::UpdateLocks;

// Each id once, in order of first appearance.
std::vector<int64_t> DistinctIds(absl::Span<const int64_t> ids) {
  std::vector<int64_t> distinct;
  distinct.reserve(ids.size());
  absl::flat_hash_set<int64_t> seen;
  seen.reserve(ids.size());
  for (const int64_t id : ids) {
    if (seen.insert(id).second) distinct.push_back(id);
  }
  return distinct;
}

// The rows `ids` of `table`, one after another.
std::string CopyRows(absl::string_view table, absl::Span<const int64_t> ids,
                     size_t row_bytes) {
  std::string rows(ids.size() * row_bytes, '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    std::memcpy(rows.data() + i * row_bytes,
                table.data() + static_cast<size_t>(ids[i]) * row_bytes,
                row_bytes);
  }
  return rows;
}

// Writes rows[i] to row ids[i] of `table`, in order (a repeat: last wins).
void WriteRows(char* table, absl::Span<const int64_t> ids, size_t row_bytes,
               const char* rows) {
  for (size_t i = 0; i < ids.size(); ++i) {
    std::memcpy(table + static_cast<size_t>(ids[i]) * row_bytes,
                rows + i * row_bytes, row_bytes);
  }
}

// The optimizer's sparse step on the locked `var` and `slots`.
template <typename T>
absl::Status StepRows(const RowUpdateSpec& push, const RowLayout& layout,
                      char* var,
                      const std::vector<std::shared_ptr<Variable>>& slots)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<T*> slot_values;
  for (const auto& slot : slots) {
    absl::StatusOr<char*> data = slot->MutableValueLocked();
    if (!data.ok()) return data.status();
    slot_values.push_back(reinterpret_cast<T*>(*data));
  }
  // As in a dense step (variable_store_push.cc): steps count from 1.
  const int64_t step =
      slots.empty() ? 0 : std::max<int64_t>(1, slots[0]->InfoLocked().version);
  // Rows arrive in a protobuf string, with no alignment promise; a sparse
  // gradient is small next to its table, so an unaligned one is copied.
  std::vector<T> aligned;
  const T* grad = reinterpret_cast<const T*>(push.rows.data());
  if (reinterpret_cast<uintptr_t>(push.rows.data()) % alignof(T) != 0) {
    aligned.resize(push.rows.size() / sizeof(T));
    std::memcpy(aligned.data(), push.rows.data(), push.rows.size());
    grad = aligned.data();
  }
  ApplySparseOptimizer<T>(push.optimizer, step, layout.rows, layout.width,
                          push.ids, grad, reinterpret_cast<T*>(var),
                          slot_values);
  for (const auto& slot : slots) slot->BumpVersionLocked();
  return absl::OkStatus();
}

absl::Status ValidateRowUpdate(const RowUpdateSpec& push) {
  if (push.ids.size() > VariableStore::kMaxRowIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("A row push may carry at most ", VariableStore::kMaxRowIds,
                     " ids; this one has ", push.ids.size(), "."));
  }
  if (push.max_staleness < 0) {
    return absl::InvalidArgumentError("max_staleness must be >= 0.");
  }
  if (push.push_id.size() > kMaxPushIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("push_id has ", push.push_id.size(), " bytes; at most ",
                     kMaxPushIdBytes, " are allowed."));
  }
  return push.kind == UpdateKind::kApplyGradient
             ? ValidateOptimizer(push.optimizer)
             : absl::OkStatus();
}

}  // namespace

absl::StatusOr<VariableStore::GatherResult> VariableStore::GatherRows(
    absl::string_view full_name, absl::Span<const int64_t> ids,
    TableRead read) {
  if (std::shared_ptr<StoreTable> table = FindTable(full_name)) {
    return GatherTableRows(*table, ids, read);
  }
  absl::StatusOr<std::shared_ptr<Variable>> found = Find(full_name);
  if (!found.ok()) return found.status();
  Variable& variable = **found;
  // Name, shape and dtype never change, so ids are checked before locking.
  absl::StatusOr<RowLayout> layout = LayoutOf(variable);
  if (!layout.ok()) return layout.status();
  const size_t row_bytes = layout->row_bytes();
  if (row_bytes > 0 && ids.size() > kMaxGatherBytes / row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Gathering ", ids.size(), " rows of ", full_name, " (", row_bytes,
        " bytes each) would return more than ", kMaxGatherBytes,
        " bytes, the most one call returns; gather fewer rows per call."));
  }
  if (absl::Status s = CheckRowIds(full_name, *layout, ids); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<TensorBuffer>> rows = AllocateReply(
      ids.size() * row_bytes,
      absl::StrCat("Gathering ", ids.size(), " rows of ", full_name));
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

absl::StatusOr<VariableInfo> VariableStore::PushRows(
    const RowUpdateSpec& push) {
  if (absl::Status s = ValidateRowUpdate(push); !s.ok()) return s;
  if (std::shared_ptr<StoreTable> table = FindTable(push.name)) {
    return PushTableRows(*table, push);
  }
  if (push.push_id.empty()) return PushRowsOnce(push);
  PushIdTable::Begun begun = push_ids_.Begin(push.push_id);
  if (!begun.claimed) {
    // A repeat names the same variable; an id reused for another push
    // would otherwise get an answer that does not fit it.
    if (begun.answer.size() != 1 || begun.answer[0].name != push.name) {
      return absl::FailedPreconditionError(absl::StrCat(
          "push_id ", push.push_id,
          " was already used for a push of other variables; each push "
          "needs its own id (a retry repeats the same variable)."));
    }
    return std::move(begun.answer[0]);
  }
  absl::StatusOr<VariableInfo> info = PushRowsOnce(push);
  // Logged pushes were answered while their record was appended.
  if (info.ok() && change_log_ == nullptr) {
    push_ids_.Answer(push.push_id, {*info});
  }
  push_ids_.End(push.push_id, /*forget=*/!info.ok());
  return info;
}

absl::StatusOr<VariableInfo> VariableStore::PushRowsOnce(
    const RowUpdateSpec& push) {
  if (push.bags) return PushBagGradient(push);
  absl::StatusOr<std::shared_ptr<Variable>> found = Find(push.name);
  if (!found.ok()) return found.status();
  std::shared_ptr<Variable> variable = *std::move(found);
  if (absl::Status s = CheckUpdateKind(push.kind, *variable); !s.ok()) {
    return s;
  }
  absl::StatusOr<RowLayout> layout = LayoutOf(*variable);
  if (!layout.ok()) return layout.status();
  const size_t row_bytes = layout->row_bytes();
  if (push.rows.size() != push.ids.size() * row_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("Rows for ", push.name, " have ", push.rows.size(),
                     " bytes; ", push.ids.size(), " ids of rows of ", row_bytes,
                     " bytes (shape ", ShapeToString(variable->shape()),
                     ", dtype ", DTypeName(variable->dtype()), ") need ",
                     push.ids.size() * row_bytes, "."));
  }
  if (absl::Status s = CheckRowIds(push.name, *layout, push.ids); !s.ok()) {
    return s;
  }
  if (push.ids.empty()) return variable->Info();
  std::vector<std::shared_ptr<Variable>> slots;
  std::vector<std::shared_ptr<Variable>> created_slots;
  if (push.kind == UpdateKind::kApplyGradient) {
    absl::StatusOr<std::vector<std::shared_ptr<Variable>>> ensured =
        EnsureSlots(*variable, push.optimizer, &created_slots);
    if (!ensured.ok()) return ensured.status();
    slots = *std::move(ensured);
  }
  absl::StatusOr<VariableInfo> info =
      ApplyRows(push, *layout, std::move(variable), std::move(slots));
  if (!info.ok()) DiscardSlots(created_slots);
  return info;
}

namespace {

// What a row push logs for each of `touched` (the variable, then its
// slots): the whole value when `whole`, else the rows `distinct`, copied
// into `new_rows` (which the result views). The caller holds every
// target's lock (UpdateLocks), which the analysis cannot follow into the
// log's callback.
std::vector<LoggedValue> LoggedValues(
    const std::vector<std::shared_ptr<Variable>>& touched, bool whole,
    absl::Span<const int64_t> distinct, size_t row_bytes,
    std::vector<std::string>& new_rows) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<LoggedValue> values;
  new_rows.reserve(touched.size());  // No reallocation: values view them.
  for (const auto& target : touched) {
    absl::string_view value = target->ValueLocked();
    if (!whole) {
      new_rows.push_back(CopyRows(value, distinct, row_bytes));
      value = new_rows.back();
    }
    values.push_back({target->name(), target->InfoLocked().version, value});
  }
  return values;
}

}  // namespace

absl::StatusOr<VariableInfo> VariableStore::ApplyRows(
    const RowUpdateSpec& push, const RowLayout& layout,
    std::shared_ptr<Variable> variable,
    std::vector<std::shared_ptr<Variable>> slots)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<std::shared_ptr<Variable>> touched = {variable};
  touched.insert(touched.end(), slots.begin(), slots.end());
  UpdateLocks locks(touched);
  if (!locks.status().ok()) return locks.status();
  if (absl::Status s =
          CheckStaleness(push.base_version, *variable,
                         variable->InfoLocked().version, push.max_staleness);
      !s.ok()) {
    counters_.AddStaleRejection();
    return s;
  }
  const size_t row_bytes = layout.row_bytes();
  // TensorFlow 1.x's Adam moves every row: it is logged and undone whole.
  const bool whole = push.kind == UpdateKind::kApplyGradient &&
                     push.optimizer.kind == OptimizerKind::kAdam;
  const std::vector<int64_t> distinct =
      whole ? std::vector<int64_t>() : DistinctIds(push.ids);
  // With a change log, what the push changes is kept, so that a push whose
  // logging fails (a full disk) can be undone.
  std::vector<SavedValue> saved_values;
  std::vector<std::string> saved_rows;
  std::vector<int64_t> saved_versions;
  if (change_log_ != nullptr) {
    if (whole) saved_values = SaveValues(touched);
    for (const auto& target : touched) {
      if (!whole) {
        saved_rows.push_back(
            CopyRows(target->ValueLocked(), distinct, row_bytes));
      }
      saved_versions.push_back(target->InfoLocked().version);
    }
  }
  absl::StatusOr<char*> var = variable->MutableValueLocked();
  if (!var.ok()) return var.status();
  switch (push.kind) {
    case UpdateKind::kAssign:
      WriteRows(*var, push.ids, row_bytes, push.rows.data());
      break;
    case UpdateKind::kAssignAdd:
      for (size_t i = 0; i < push.ids.size(); ++i) {
        AssignAdd(variable->dtype(),
                  *var + static_cast<size_t>(push.ids[i]) * row_bytes,
                  push.rows.substr(i * row_bytes, row_bytes));
      }
      break;
    case UpdateKind::kApplyGradient: {
      absl::Status s = variable->dtype() == DType::kFloat
                           ? StepRows<float>(push, layout, *var, slots)
                           : StepRows<double>(push, layout, *var, slots);
      if (!s.ok()) return s;  // Nothing was written.
      break;
    }
  }
  variable->BumpVersionLocked();
  const VariableInfo info = variable->InfoLocked();
  const auto count_step = [&] {
    if (push.kind == UpdateKind::kApplyGradient) {
      counters_.AddOptimizerSteps(push.optimizer.kind, 1);
    }
  };
  if (change_log_ == nullptr) {
    count_step();
    return info;
  }
  bool gone = false;
  absl::Status status = AppendInOrder(
      locks.variables(),
      [&]() -> absl::StatusOr<LogPosition> {
        const ChangeSource source = push.kind == UpdateKind::kApplyGradient
                                        ? ChangeSource::kGradient
                                        : ChangeSource::kAssign;
        std::vector<std::string> new_rows;
        std::vector<LoggedValue> values =
            LoggedValues(touched, whole, distinct, row_bytes, new_rows);
        LoggedPushId id;
        if (!push.push_id.empty()) id = {push.push_id, {0}};
        absl::StatusOr<LogPosition> end =
            whole ? change_log_->AppendPush(values, source, id)
                  : change_log_->AppendRows(
                        {distinct, std::move(values), std::move(id)}, source);
        if (end.ok() && !push.push_id.empty()) {
          push_ids_.Answer(push.push_id, {info});
        }
        return end;
      },
      &gone);
  if (status.ok()) {
    count_step();
    return info;
  }
  // Not logged, so not applied: put back what the push changed.
  if (whole) {
    RestoreValues(saved_values);
    return status;
  }
  for (size_t k = 0; k < touched.size(); ++k) {
    Variable& target = *touched[k];
    // Written by this push under its lock, so no reader shares it.
    absl::StatusOr<char*> data = target.MutableValueLocked();
    if (data.ok()) WriteRows(*data, distinct, row_bytes, saved_rows[k].data());
    target.ReplaceLocked(target.ValueRefLocked(), saved_versions[k]);
  }
  return status;
}

absl::Status VariableStore::CheckReplayRows(absl::Span<const int64_t> ids,
                                            const LoggedValue& value) {
  absl::StatusOr<std::shared_ptr<Variable>> variable = Find(value.name);
  if (!variable.ok()) {
    return absl::DataLossError(
        absl::StrCat("The log sets rows of variable ", value.name,
                     ", which the restored state lacks."));
  }
  absl::StatusOr<RowLayout> layout = LayoutOf(**variable);
  if (!layout.ok() || !CheckRowIds(value.name, *layout, ids).ok() ||
      value.value.size() != ids.size() * layout->row_bytes()) {
    return absl::DataLossError(absl::StrCat(
        "The log sets ", ids.size(), " rows (", value.value.size(),
        " bytes) of variable ", value.name, " of shape ",
        ShapeToString((*variable)->shape()), ", which they do not fit."));
  }
  return absl::OkStatus();
}

absl::Status VariableStore::ReplayRows(absl::Span<const int64_t> ids,
                                       absl::Span<const LoggedValue> values,
                                       const LoggedPushId& push_id) {
  for (const LoggedValue& value : values) {
    if (absl::Status s = CheckReplayRows(ids, value); !s.ok()) return s;
  }
  for (const LoggedValue& value : values) {
    absl::StatusOr<std::shared_ptr<Variable>> found = Find(value.name);
    if (!found.ok()) return found.status();
    Variable& target = **found;
    const size_t row_bytes = value.value.size() / ids.size();
    absl::Status status = target.LockForUpdate();
    if (status.ok()) {
      absl::StatusOr<char*> data = target.MutableValueLocked();
      if (data.ok()) {
        WriteRows(*data, ids, row_bytes, value.value.data());
        target.ReplaceLocked(target.ValueRefLocked(), value.version);
      } else {
        status = data.status();
      }
    }
    target.Unlock();
    if (!status.ok()) return status;
  }
  if (push_id.id.empty()) return absl::OkStatus();
  if (push_id.answer.size() != 1 || push_id.answer[0] >= values.size()) {
    return absl::DataLossError("The log's row push answer has a bad index.");
  }
  const LoggedValue& pushed = values[push_id.answer[0]];
  absl::StatusOr<std::shared_ptr<Variable>> variable = Find(pushed.name);
  if (!variable.ok()) return variable.status();
  absl::StatusOr<VariableInfo> info = (*variable)->Info();
  if (!info.ok()) return info.status();
  info->version = pushed.version;
  push_ids_.Remember(push_id.id, {*std::move(info)});
  return absl::OkStatus();
}

}  // namespace paramserver
