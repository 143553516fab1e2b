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
  if (absl::Status s = ReserveLocked(info.name, info.shape, info.dtype, &bytes); !s.ok()) {
    return s;
  }
  if (value == nullptr || value->size() != bytes) {
    total_bytes_ -= bytes;
    return absl::DataLossError(absl::StrCat("Restored value of ", info.name,
                                            " does not match its shape and dtype."));
  }
  auto variable = std::make_shared<Variable>(info.name, info.dtype, info.shape,
                                             info.trainable, bytes);
  if (is_slot) variable->set_is_slot();
  variable->Publish(std::move(value), info.version);
  variables_.emplace(info.name, std::move(variable));
  return absl::OkStatus();
}

absl::Status VariableStore::ReplaySetValue(absl::string_view name, int64_t version,
                                           absl::string_view value) {
  absl::StatusOr<std::shared_ptr<Variable>> variable = Find(name);
  if (!variable.ok()) {
    return absl::DataLossError(absl::StrCat("The log sets variable ", name,
                                            ", which the restored state lacks."));
  }
  if (value.size() != (*variable)->byte_size()) {
    return absl::DataLossError(absl::StrCat("The log sets ", value.size(),
                                            " bytes for variable ", name, ", which has ",
                                            (*variable)->byte_size(), "."));
  }
  absl::StatusOr<std::shared_ptr<TensorBuffer>> buffer = TensorBuffer::Allocate(value.size());
  if (!buffer.ok()) return buffer.status();
  std::memcpy((*buffer)->data(), value.data(), value.size());
  Variable& target = **variable;
  absl::Status settled = target.LockForUpdate();
  if (settled.ok()) target.ReplaceLocked(*std::move(buffer), version);
  target.Unlock();
  return settled;
}

void VariableStore::ReplayDelete(absl::string_view name) {
  MutexLock lock(&mu_);
  auto it = variables_.find(name);
  if (it != variables_.end()) EraseLocked(it);
}

std::vector<VariableStore::SnapshotEntry> VariableStore::SnapshotAll() {
  std::vector<std::shared_ptr<Variable>> variables;
  {
    MutexLock lock(&mu_);
    for (const auto& [name, variable] : variables_) variables.push_back(variable);
  }
  std::vector<SnapshotEntry> entries;
  entries.reserve(variables.size());
  for (const auto& variable : variables) {
    absl::StatusOr<VariableSnapshot> snapshot = variable->Read();
    // A variable whose creation failed was never acknowledged.
    if (snapshot.ok()) entries.push_back({*std::move(snapshot), variable->is_slot()});
  }
  return entries;
}

}  // namespace paramserver
