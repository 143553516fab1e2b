#ifndef PARAM_SERVER_SERVER_VARIABLE_H_
#define PARAM_SERVER_SERVER_VARIABLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/variable_spec.h"
#include "server/tensor_buffer.h"

namespace paramserver {

// A variable's value at one version. The buffer is immutable and stays valid
// for as long as the snapshot holds it, whatever happens to the variable.
struct VariableSnapshot {
  VariableInfo info;
  std::shared_ptr<const TensorBuffer> value;
};

// One named variable. Name, dtype, shape and trainability are fixed at
// creation; the value and version change together under the variable's own
// lock. A variable is created "pending" and becomes readable once its
// initializer has run (Publish) or is abandoned (Fail); readers of a pending
// variable wait. Thread-safe.
class Variable {
 public:
  Variable(std::string name, DType dtype, TensorShape shape, bool trainable,
           size_t byte_size);

  const std::string& name() const { return name_; }
  DType dtype() const { return dtype_; }
  const TensorShape& shape() const { return shape_; }
  bool trainable() const { return trainable_; }
  size_t byte_size() const { return byte_size_; }

  // Makes `value` the variable's first value, at `version` (1 for a new
  // variable; a restored one keeps its own), and wakes readers.
  void Publish(std::shared_ptr<TensorBuffer> value, int64_t version = 1)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Publish for a variable no other thread can reach yet (before the store
  // registers it), without taking its lock: the store calls it under its own
  // locks, and a variable's lock must never be taken after those (pushes
  // take them the other way round, see VariableStore::log_mu_).
  void PublishUnshared(std::shared_ptr<TensorBuffer> value,
                       int64_t version = 1) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    value_ = std::move(value);
    version_ = version;
    Touch();
  }
  // Marks initialization as failed; waiting and later readers get `status`.
  void Fail(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until the variable is published or failed, then returns the current
  // value (or the failure).
  absl::StatusOr<VariableSnapshot> Read() const ABSL_LOCKS_EXCLUDED(mu_);

  // Metadata at the current version, after waiting as Read does.
  absl::StatusOr<VariableInfo> Info() const ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Updates. The store locks every variable an update touches, in name
  // order, then changes them; see VariableStore::Push. ----

  // Waits until the variable is settled, then holds its lock. Returns the
  // initialization failure, if any, with the lock held all the same.
  absl::Status LockForUpdate() ABSL_EXCLUSIVE_LOCK_FUNCTION(mu_);
  void Unlock() ABSL_UNLOCK_FUNCTION(mu_) { mu_.Unlock(); }

  VariableInfo InfoLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The value, writable in place. A value some reader still holds is copied
  // first (copy-on-write), so snapshots never change under their readers.
  absl::StatusOr<char*> MutableValueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The current value's bytes, valid while the lock is held.
  absl::string_view ValueLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::string_view(value_->data(), value_->size());
  }
  // A reference to the current value; while it is held, updates copy.
  std::shared_ptr<TensorBuffer> ValueRefLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return value_;
  }
  // Replaces value and version (log replay, undoing a failed push).
  void ReplaceLocked(std::shared_ptr<TensorBuffer> value, int64_t version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    value_ = std::move(value);
    version_ = version;
    Touch();
  }
  // Marks one completed update.
  void BumpVersionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++version_;
    Touch();
  }

  // When the value last changed in this process (published, updated or
  // restored); the Unix epoch while pending. Read without the lock, for
  // operators' views.
  absl::Time last_update() const {
    return absl::FromUnixMicros(
        last_update_micros_.load(std::memory_order_relaxed));
  }

  // True for an optimizer's slot variable (v/Momentum, v/Adam, ...).
  bool is_slot() const { return is_slot_; }
  void set_is_slot() { is_slot_ = true; }  // Before the variable is shared.

 private:
  bool Settled() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Touch() {
    last_update_micros_.store(absl::ToUnixMicros(absl::Now()),
                              std::memory_order_relaxed);
  }

  // Constant after construction.
  const std::string name_;
  const DType dtype_;
  const TensorShape shape_;
  const bool trainable_;
  const size_t byte_size_;
  bool is_slot_ = false;

  // State below is protected by mu_.
  mutable Mutex mu_;
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;  // 0 while pending.
  // Shared with readers' snapshots; see MutableValueLocked.
  std::shared_ptr<TensorBuffer> value_ ABSL_GUARDED_BY(mu_);
  absl::Status init_status_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> last_update_micros_{0};
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_VARIABLE_H_
