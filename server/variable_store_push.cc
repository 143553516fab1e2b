// VariableStore's data plane: Pull, Push and optimizer slots.

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/initializer.h"
#include "server/variable_store.h"
#include "server/variable_store_updates.h"

namespace paramserver {
using store_internal::UpdateLocks;

absl::Status CheckPushUpdateCount(size_t updates) {
  if (updates <= kMaxUpdatesPerPush) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("A push may carry at most ", kMaxUpdatesPerPush,
                   " updates; this one has ", updates, "."));
}

struct PushTarget {
  const VariableUpdate* update;
  std::shared_ptr<Variable> variable;
  std::vector<std::shared_ptr<Variable>> slots;
};

namespace store_internal {

absl::Status CheckUpdateKind(UpdateKind kind, const Variable& variable) {
  if (kind == UpdateKind::kApplyGradient &&
      !IsFloatingDType(variable.dtype())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Cannot apply a gradient to ", variable.name(), " of dtype ",
        DTypeName(variable.dtype()), ": gradients need a floating dtype."));
  }
  if (kind == UpdateKind::kAssignAdd && variable.dtype() == DType::kBool) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Cannot assign_add to ", variable.name(), " of dtype bool."));
  }
  return absl::OkStatus();
}

absl::Status CheckStaleness(std::optional<int64_t> base_version,
                            const Variable& variable, int64_t version,
                            int64_t max_staleness) {
  if (max_staleness <= 0 || !base_version.has_value()) {
    return absl::OkStatus();
  }
  const int64_t behind = version - *base_version;
  if (behind > max_staleness) {
    return absl::AbortedError(absl::StrCat(
        "Update of ", variable.name(), " was computed at version ",
        *base_version, ", ", behind, " versions behind the current ", version,
        "; max_staleness is ", max_staleness,
        ". Pull the variable and recompute."));
  }
  return absl::OkStatus();
}

template <typename T>
void AddInPlace(char* var, absl::string_view delta, size_t bytes) {
  const size_t n = bytes / sizeof(T);
  T* out = reinterpret_cast<T*>(var);
  for (size_t i = 0; i < n; ++i) {
    T value;
    std::memcpy(&value, delta.data() + i * sizeof(T), sizeof(T));
    out[i] += value;
  }
}

void AssignAdd(DType dtype, char* var, absl::string_view delta) {
  switch (dtype) {
    case DType::kFloat:
      return AddInPlace<float>(var, delta, delta.size());
    case DType::kDouble:
      return AddInPlace<double>(var, delta, delta.size());
    case DType::kInt32:
      return AddInPlace<int32_t>(var, delta, delta.size());
    case DType::kInt64:
      return AddInPlace<int64_t>(var, delta, delta.size());
    case DType::kBool:
      return;
  }
}

std::vector<SavedValue> SaveValues(
    const std::vector<std::shared_ptr<Variable>>& variables)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<SavedValue> saved;
  for (const auto& variable : variables) {
    saved.push_back({variable.get(), variable->ValueRefLocked(),
                     variable->InfoLocked().version});
  }
  return saved;
}

void RestoreValues(std::vector<SavedValue>& saved)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  for (SavedValue& entry : saved) {
    entry.variable->ReplaceLocked(std::move(entry.value), entry.version);
  }
}

}  // namespace store_internal

namespace {

using store_internal::AssignAdd;
using store_internal::CheckStaleness;
using store_internal::CheckUpdateKind;
using store_internal::RestoreValues;
using store_internal::SavedValue;
using store_internal::SaveValues;
using Target = PushTarget;

absl::Status CheckUpdateSize(const VariableUpdate& update,
                             const Variable& variable) {
  if (update.value.size() != variable.byte_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Value for ", variable.name(), " has ", update.value.size(),
        " bytes; shape ", ShapeToString(variable.shape()), " and dtype ",
        DTypeName(variable.dtype()), " need ", variable.byte_size(), "."));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status StepOptimizer(const OptimizerSpec& optimizer, Target& target,
                           char* var) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<T*> slots;
  for (const auto& slot : target.slots) {
    absl::StatusOr<char*> data = slot->MutableValueLocked();
    if (!data.ok()) return data.status();
    slots.push_back(reinterpret_cast<T*>(*data));
  }
  // Each step bumps every slot's version and a slot starts at 1, so the
  // first slot's version numbers this step from 1. Slot versions are saved
  // and restored with the slots, so Adam's bias correction carries on across
  // restarts (TensorFlow keeps beta1_power / beta2_power variables for it).
  // (At least 1: a step of 0 would make Adam's bias correction divide by 0.)
  const int64_t step =
      slots.empty()
          ? 0
          : std::max<int64_t>(1, target.slots[0]->InfoLocked().version);
  // Gradients arrive in a protobuf string or a push buffer, with no
  // alignment promise: ApplyOptimizer reads them in place when aligned and
  // copies unaligned ones a few KB at a time.
  ApplyOptimizer<T>(optimizer, step, target.update->value,
                    reinterpret_cast<T*>(var), slots);
  for (const auto& slot : target.slots) slot->BumpVersionLocked();
  return absl::OkStatus();
}

absl::Status ApplyOne(const OptimizerSpec& optimizer,
                      Target& target) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Variable& variable = *target.variable;
  absl::StatusOr<char*> var = variable.MutableValueLocked();
  if (!var.ok()) return var.status();
  const VariableUpdate& update = *target.update;
  switch (update.kind) {
    case UpdateKind::kAssign:
      if (!update.value.empty()) {  // An empty variable has no buffer.
        std::memcpy(*var, update.value.data(), update.value.size());
      }
      break;
    case UpdateKind::kAssignAdd:
      AssignAdd(variable.dtype(), *var, update.value);
      break;
    case UpdateKind::kApplyGradient: {
      absl::Status s = variable.dtype() == DType::kFloat
                           ? StepOptimizer<float>(optimizer, target, *var)
                           : StepOptimizer<double>(optimizer, target, *var);
      if (!s.ok()) return s;
      break;
    }
  }
  variable.BumpVersionLocked();
  return absl::OkStatus();
}

// The push's new values (each variable's, then its slots'), for its one log
// record; read with the locks of the push held. Sets *answer to the indices
// of the pushed variables (not their slots) among them.
std::vector<LoggedValue> AppliedValues(const std::vector<Target>& targets,
                                       std::vector<uint32_t>* answer)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<LoggedValue> values;
  for (const Target& target : targets) {
    const Variable& variable = *target.variable;
    answer->push_back(static_cast<uint32_t>(values.size()));
    values.push_back({variable.name(), variable.InfoLocked().version,
                      variable.ValueLocked()});
    for (const auto& slot : target.slots) {
      values.push_back(
          {slot->name(), slot->InfoLocked().version, slot->ValueLocked()});
    }
  }
  return values;
}

// kGradient when every update is an optimizer step (see FsyncPolicy).
ChangeSource SourceOf(const std::vector<Target>& targets) {
  for (const Target& target : targets) {
    if (target.update->kind != UpdateKind::kApplyGradient)
      return ChangeSource::kAssign;
  }
  return ChangeSource::kGradient;
}

absl::Status ValidatePushSpec(const PushSpec& push) {
  if (absl::Status s = CheckPushUpdateCount(push.updates.size()); !s.ok()) {
    return s;
  }
  absl::flat_hash_set<absl::string_view> names;
  bool has_gradient = false;
  for (const VariableUpdate& update : push.updates) {
    if (!names.insert(update.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Variable ", update.name, " appears twice in one push."));
    }
    has_gradient |= update.kind == UpdateKind::kApplyGradient;
  }
  if (push.max_staleness < 0) {
    return absl::InvalidArgumentError("max_staleness must be >= 0.");
  }
  if (push.push_id.size() > kMaxPushIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("push_id has ", push.push_id.size(), " bytes; at most ",
                     kMaxPushIdBytes, " are allowed."));
  }
  return has_gradient ? ValidateOptimizer(push.optimizer) : absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<VariableStore::PullResult>> VariableStore::Pull(
    absl::Span<const PullItemSpec> items) {
  std::vector<PullResult> results;
  results.reserve(items.size());
  for (const PullItemSpec& item : items) {
    absl::StatusOr<std::shared_ptr<Variable>> variable = Find(item.name);
    if (!variable.ok()) return variable.status();
    absl::StatusOr<VariableSnapshot> snapshot = (*variable)->Read();
    if (!snapshot.ok()) return snapshot.status();
    PullResult result;
    result.info = std::move(snapshot->info);
    // Equal, not "at most": after a restore that lost recent updates the
    // version can be lower than one a worker saw, and the worker must then
    // get the restored value rather than keep its own.
    result.unchanged = result.info.version == item.known_version;
    if (!result.unchanged) result.value = std::move(snapshot->value);
    results.push_back(std::move(result));
  }
  return results;
}

absl::StatusOr<std::vector<size_t>> VariableStore::CheckPushHeader(
    const PushSpec& push) {
  if (absl::Status s = ValidatePushSpec(push); !s.ok()) return s;
  std::vector<size_t> sizes;
  sizes.reserve(push.updates.size());
  for (const VariableUpdate& update : push.updates) {
    absl::StatusOr<std::shared_ptr<Variable>> variable = Find(update.name);
    if (!variable.ok()) return variable.status();
    if (absl::Status s = CheckUpdateKind(update.kind, **variable); !s.ok())
      return s;
    sizes.push_back((*variable)->byte_size());
  }
  return sizes;
}

absl::StatusOr<std::vector<VariableInfo>> VariableStore::Push(
    const PushSpec& push) {
  if (absl::Status s = ValidatePushSpec(push); !s.ok()) return s;
  if (push.push_id.empty()) return PushOnce(push);
  PushIdTable::Begun begun = push_ids_.Begin(push.push_id);
  if (!begun.claimed) {
    // A repeat names the same variables in the same order; an id reused for
    // another push would otherwise get an answer that does not fit it.
    const bool same =
        begun.answer.size() == push.updates.size() &&
        std::equal(begun.answer.begin(), begun.answer.end(),
                   push.updates.begin(),
                   [](const VariableInfo& a, const VariableUpdate& u) {
                     return a.name == u.name;
                   });
    if (!same) {
      return absl::FailedPreconditionError(absl::StrCat(
          "push_id ", push.push_id,
          " was already used for a push of other variables; each push "
          "needs its own id (a retry repeats the same variables)."));
    }
    return std::move(begun.answer);
  }
  absl::StatusOr<std::vector<VariableInfo>> infos = PushOnce(push);
  // Logged pushes were answered while their record was appended.
  if (infos.ok() && change_log_ == nullptr)
    push_ids_.Answer(push.push_id, *infos);
  push_ids_.End(push.push_id, /*forget=*/!infos.ok());
  return infos;
}

absl::StatusOr<std::vector<VariableInfo>> VariableStore::PushOnce(
    const PushSpec& push) {
  // Nothing to apply, and nothing to log: the log refuses an empty record.
  if (push.updates.empty()) return std::vector<VariableInfo>();
  // Every update is resolved and checked before any slot is created.
  std::vector<Target> targets;
  targets.reserve(push.updates.size());
  for (const VariableUpdate& update : push.updates) {
    absl::StatusOr<std::shared_ptr<Variable>> variable = Find(update.name);
    if (!variable.ok()) return variable.status();
    if (absl::Status s = CheckUpdateKind(update.kind, **variable); !s.ok())
      return s;
    if (absl::Status s = CheckUpdateSize(update, **variable); !s.ok()) return s;
    targets.push_back({&update, *std::move(variable), {}});
  }
  std::vector<std::shared_ptr<Variable>> created_slots;
  absl::StatusOr<std::vector<VariableInfo>> infos =
      ApplyPush(push, targets, &created_slots);
  if (!infos.ok()) {
    targets.clear();  // Its references to the slots would keep them.
    DiscardSlots(created_slots);
  }
  return infos;
}

absl::StatusOr<std::vector<VariableInfo>> VariableStore::ApplyPush(
    const PushSpec& push, std::vector<Target>& targets,
    std::vector<std::shared_ptr<Variable>>* created_slots)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<std::shared_ptr<Variable>> to_lock;
  for (Target& target : targets) {
    if (target.update->kind == UpdateKind::kApplyGradient) {
      absl::StatusOr<std::vector<std::shared_ptr<Variable>>> slots =
          EnsureSlots(*target.variable, push.optimizer, created_slots);
      if (!slots.ok()) return slots.status();
      target.slots = *std::move(slots);
    }
    to_lock.push_back(target.variable);
    to_lock.insert(to_lock.end(), target.slots.begin(), target.slots.end());
  }
  UpdateLocks locks(std::move(to_lock));
  if (!locks.status().ok()) return locks.status();
  for (const Target& target : targets) {
    if (absl::Status s = CheckStaleness(
            target.update->base_version, *target.variable,
            target.variable->InfoLocked().version, push.max_staleness);
        !s.ok()) {
      counters_.AddStaleRejection();
      return s;
    }
  }
  // With a change log, keep the values as they were: holding them makes the
  // updates below copy (copy-on-write), and lets a push whose logging fails
  // (a full disk) be undone, so that what was not acknowledged is not applied.
  std::vector<SavedValue> saved;
  if (change_log_ != nullptr) saved = SaveValues(locks.variables());
  std::vector<VariableInfo> infos;
  absl::Status status;
  for (Target& target : targets) {
    status = ApplyOne(push.optimizer, target);
    if (!status.ok()) break;
    infos.push_back(target.variable->InfoLocked());
  }
  // Logged as one record while the locks are still held, so the log's order
  // is the store's and replay applies the push whole or not at all.
  if (status.ok() && change_log_ != nullptr) {
    bool gone = false;
    status = AppendInOrder(
        locks.variables(),
        [&]() -> absl::StatusOr<LogPosition> {
          LoggedPushId id{push.push_id, {}};
          std::vector<LoggedValue> values = AppliedValues(targets, &id.answer);
          absl::StatusOr<LogPosition> end =
              change_log_->AppendPush(values, SourceOf(targets), id);
          if (end.ok() && !push.push_id.empty()) {
            push_ids_.Answer(push.push_id, infos);
          }
          return end;
        },
        &gone);
  }
  if (!status.ok()) {
    // Without a change log an allocation failure can leave earlier updates
    // of this push applied; it is reported as the resource error it is.
    RestoreValues(saved);
    return status;
  }
  const uint64_t steps = static_cast<uint64_t>(
      std::count_if(targets.begin(), targets.end(), [](const Target& target) {
        return target.update->kind == UpdateKind::kApplyGradient;
      }));
  if (steps > 0) counters_.AddOptimizerSteps(push.optimizer.kind, steps);
  return infos;
}

void VariableStore::DiscardSlots(const std::vector<std::shared_ptr<Variable>>&
                                     slots) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (slots.empty()) return;
  // Locked in a push's order (variable locks, then log_mu_, then mu_).
  UpdateLocks locks(slots);
  LogPosition end = 0;
  {
    MutexLock order(&log_mu_);
    MutexLock lock(&mu_);
    for (const std::shared_ptr<Variable>& slot : locks.variables()) {
      auto it = variables_.find(slot->name());
      if (it == variables_.end() || it->second != slot) continue;
      // References are only taken from variables_ under mu_, so with mu_
      // held the count cannot grow: the store's, the caller's and the
      // locks' mean nobody else has the slot.
      constexpr long kOwnReferences = 3;
      if (slot.use_count() > kOwnReferences) continue;
      if (slot->InfoLocked().version != 1) continue;
      // If the log refuses the deletion (a full disk), a restart brings the
      // slot back at its initial value, which is what the next step would
      // create anyway.
      LogDeleteLocked(slot->name(), &end).IgnoreError();
      EraseLocked(it);
    }
  }
  CommitLog(end).IgnoreError();
}

absl::StatusOr<std::vector<std::shared_ptr<Variable>>>
VariableStore::EnsureSlots(const Variable& variable,
                           const OptimizerSpec& optimizer,
                           std::vector<std::shared_ptr<Variable>>* created) {
  std::vector<std::shared_ptr<Variable>> slots;
  LogPosition end = 0;
  {
    MutexLock order(&log_mu_);
    MutexLock lock(&mu_);
    // A delete since the push found the variable: no slots for the orphan.
    auto it = variables_.find(variable.name());
    if (it == variables_.end() || it->second.get() != &variable) {
      return absl::NotFoundError(
          absl::StrCat("Variable ", variable.name(), " does not exist."));
    }
    for (const SlotSpec& slot : SlotsFor(optimizer)) {
      bool is_new = false;
      absl::StatusOr<std::shared_ptr<Variable>> found =
          EnsureSlotLocked(variable, slot, &end, &is_new);
      if (!found.ok()) return found.status();
      if (is_new) created->push_back(*found);
      slots.push_back(*std::move(found));
    }
  }
  if (absl::Status s = CommitLog(end); !s.ok()) return s;
  return slots;
}

absl::StatusOr<std::shared_ptr<Variable>> VariableStore::EnsureSlotLocked(
    const Variable& variable, const SlotSpec& slot, LogPosition* end,
    bool* created) {
  const std::string name = absl::StrCat(variable.name(), "/", slot.suffix);
  auto it = variables_.find(name);
  if (it != variables_.end()) {
    if (!it->second->is_slot()) {
      return absl::FailedPreconditionError(
          absl::StrCat("The optimizer needs slot variable ", name,
                       ", but a variable of that name was created by a user."));
    }
    return it->second;
  }
  size_t bytes = 0;
  if (absl::Status s =
          ReserveLocked(name, variable.shape(), variable.dtype(), &bytes);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::shared_ptr<TensorBuffer>> buffer =
      TensorBuffer::Allocate(bytes);
  if (!buffer.ok()) {
    total_bytes_ -= bytes;
    return buffer.status();
  }
  InitializerSpec init;
  init.kind = InitializerKind::kConstant;
  init.values = {slot.initial_value};
  RunInitializer(init, variable.dtype(), variable.shape(), (*buffer)->span());
  if (change_log_ != nullptr) {
    const VariableInfo info{name, variable.shape(), variable.dtype(), 1, false};
    absl::StatusOr<LogPosition> logged = change_log_->AppendCreate(
        info, true, absl::string_view((*buffer)->data(), bytes));
    if (!logged.ok()) {
      total_bytes_ -= bytes;
      return logged.status();
    }
    *end = *logged;
  }
  auto slot_variable = std::make_shared<Variable>(
      name, variable.dtype(), variable.shape(), false, bytes);
  slot_variable->set_is_slot();
  slot_variable->PublishUnshared(*std::move(buffer));
  variables_.emplace(name, slot_variable);
  *created = true;
  return slot_variable;
}

VariableStore::Reservation::~Reservation() {
  if (store_ != nullptr) store_->Release(bytes_);
}

absl::StatusOr<VariableStore::Reservation> VariableStore::Reserve(
    size_t bytes, absl::string_view what) {
  MutexLock lock(&mu_);
  if (!FitsLocked(bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, " needs ", bytes,
        " bytes while it arrives; the server's memory "
        "limit is ",
        options_.max_total_bytes, " bytes, of which ", total_bytes_,
        " hold variables, ", reserved_bytes_, " pushes in flight and ",
        reply_bytes_->load(), " replies being sent."));
  }
  reserved_bytes_ += bytes;
  return Reservation(this, bytes);
}

size_t VariableStore::InUseLocked() const {
  return total_bytes_ + reserved_bytes_ + reply_bytes_->load();
}

bool VariableStore::FitsLocked(size_t bytes) const {
  const size_t in_use = InUseLocked();
  return in_use <= options_.max_total_bytes &&
         bytes <= options_.max_total_bytes - in_use;
}

namespace {

// A reply's buffer with the bytes it counts: the count goes down when the
// last reference to the buffer goes, which may be after the call (gRPC
// sends from it) and after the store is gone (so the count is shared).
struct CountedReply {
  CountedReply(std::shared_ptr<TensorBuffer> buffer,
               std::shared_ptr<std::atomic<size_t>> counter)
      : buffer(std::move(buffer)), counter(std::move(counter)) {}
  ~CountedReply() { counter->fetch_sub(buffer->size()); }
  CountedReply(const CountedReply&) = delete;
  CountedReply& operator=(const CountedReply&) = delete;

  const std::shared_ptr<TensorBuffer> buffer;
  const std::shared_ptr<std::atomic<size_t>> counter;
};

}  // namespace

absl::StatusOr<std::shared_ptr<TensorBuffer>> VariableStore::AllocateReply(
    size_t bytes, absl::string_view what) {
  {
    MutexLock lock(&mu_);
    if (!FitsLocked(bytes)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          what, " needs ", bytes,
          " bytes for its reply; the server's memory limit is ",
          options_.max_total_bytes, " bytes, of which ", total_bytes_,
          " hold variables, ", reserved_bytes_, " pushes in flight and ",
          reply_bytes_->load(),
          " replies being sent. Retry later, or ask for less per call."));
    }
    reply_bytes_->fetch_add(bytes);
  }
  absl::StatusOr<std::shared_ptr<TensorBuffer>> buffer =
      TensorBuffer::Allocate(bytes);
  if (!buffer.ok()) {
    reply_bytes_->fetch_sub(bytes);
    return buffer.status();
  }
  TensorBuffer* const raw = buffer->get();
  auto counted =
      std::make_shared<CountedReply>(*std::move(buffer), reply_bytes_);
  // Aliasing: the caller sees the buffer; its last reference frees both.
  return std::shared_ptr<TensorBuffer>(std::move(counted), raw);
}

size_t VariableStore::reply_bytes() const { return reply_bytes_->load(); }

void VariableStore::Release(size_t bytes) {
  MutexLock lock(&mu_);
  reserved_bytes_ -= bytes;
}

size_t VariableStore::reserved_bytes() const {
  MutexLock lock(&mu_);
  return reserved_bytes_;
}

}  // namespace paramserver
