// VariableStore's durability side: installing restored variables, replaying
// the log, and snapshots for checkpoints.

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/variable_store.h"

namespace paramserver {

absl::Status VariableStore::Install(const VariableInfo& info, bool is_slot,
                                    std::shared_ptr<TensorBuffer> value) {
  MutexLock lock(&mu_);
  auto existing = variables_.find(info.name);
  if (existing != variables_.end()) EraseLocked(existing);
  size_t bytes = 0;
  if (absl::Status s = ReserveLocked(info.name, info.shape, info.dtype, &bytes);
      !s.ok()) {
    return s;
  }
  if (value == nullptr || value->size() != bytes) {
    total_bytes_ -= bytes;
    return absl::DataLossError(
        absl::StrCat("Restored value of ", info.name,
                     " does not match its shape and dtype."));
  }
  auto variable = std::make_shared<Variable>(info.name, info.dtype, info.shape,
                                             info.trainable, bytes);
  if (is_slot) variable->set_is_slot();
  variable->PublishUnshared(std::move(value), info.version);
  variables_.emplace(info.name, std::move(variable));
  return absl::OkStatus();
}

absl::Status VariableStore::ReplayPush(absl::Span<const LoggedValue> values,
                                       const LoggedPushId& push_id) {
  std::vector<std::shared_ptr<Variable>> targets;
  std::vector<std::shared_ptr<TensorBuffer>> buffers;
  for (const LoggedValue& value : values) {
    absl::StatusOr<std::shared_ptr<Variable>> variable = Find(value.name);
    if (!variable.ok()) {
      return absl::DataLossError(
          absl::StrCat("The log sets variable ", value.name,
                       ", which the restored state lacks."));
    }
    if (value.value.size() != (*variable)->byte_size()) {
      return absl::DataLossError(absl::StrCat(
          "The log sets ", value.value.size(), " bytes for variable ",
          value.name, ", which has ", (*variable)->byte_size(), "."));
    }
    absl::StatusOr<std::shared_ptr<TensorBuffer>> buffer =
        TensorBuffer::Allocate(value.value.size());
    if (!buffer.ok()) return buffer.status();
    std::memcpy((*buffer)->data(), value.value.data(), value.value.size());
    targets.push_back(*std::move(variable));
    buffers.push_back(*std::move(buffer));
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    Variable& target = *targets[i];
    absl::Status settled = target.LockForUpdate();
    if (settled.ok())
      target.ReplaceLocked(std::move(buffers[i]), values[i].version);
    target.Unlock();
    if (!settled.ok()) return settled;
  }
  if (push_id.id.empty()) return absl::OkStatus();
  std::vector<VariableInfo> answer;
  for (uint32_t index : push_id.answer) {
    if (index >= targets.size()) {
      return absl::DataLossError("The log's push answer has a bad index.");
    }
    absl::StatusOr<VariableInfo> info = targets[index]->Info();
    if (!info.ok()) return info.status();
    info->version = values[index].version;
    answer.push_back(*std::move(info));
  }
  push_ids_.Remember(push_id.id, std::move(answer));
  return absl::OkStatus();
}

void VariableStore::ReplayPushIds(absl::Span<const RememberedPush> remembered) {
  for (const RememberedPush& push : remembered) {
    push_ids_.Remember(push.id, push.answer);
  }
}

absl::Status VariableStore::LogPushIds() {
  if (change_log_ == nullptr) return absl::OkStatus();
  absl::StatusOr<LogPosition> end;
  {
    MutexLock order(&log_mu_);
    std::vector<RememberedPush> remembered = push_ids_.Snapshot();
    if (remembered.empty()) return absl::OkStatus();
    end = change_log_->AppendPushIds(remembered);
  }
  if (!end.ok()) return end.status();
  return change_log_->Commit(*end);
}

void VariableStore::ReplayDelete(absl::string_view name) {
  std::vector<std::shared_ptr<StoreTable>> removed;  // Dropped unlocked.
  MutexLock lock(&mu_);
  auto it = variables_.find(name);
  if (it != variables_.end()) EraseLocked(it);
  auto table = tables_.find(name);
  if (table != tables_.end()) EraseTableLocked(table, &removed);
}

std::vector<VariableStore::SnapshotEntry> VariableStore::SnapshotAll() {
  std::vector<std::shared_ptr<Variable>> variables;
  {
    MutexLock lock(&mu_);
    for (const auto& [name, variable] : variables_)
      variables.push_back(variable);
  }
  return SnapshotOf(variables);
}

std::vector<VariableStore::SnapshotEntry> VariableStore::SnapshotOf(
    const std::vector<std::shared_ptr<Variable>>& variables) {
  std::vector<SnapshotEntry> entries;
  entries.reserve(variables.size());
  for (const auto& variable : variables) {
    absl::StatusOr<VariableSnapshot> snapshot = variable->Read();
    // A variable whose creation failed was never acknowledged.
    if (snapshot.ok())
      entries.push_back({*std::move(snapshot), variable->is_slot()});
  }
  return entries;
}

}  // namespace paramserver
