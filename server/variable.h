#ifndef PARAM_SERVER_SERVER_VARIABLE_H_
#define PARAM_SERVER_SERVER_VARIABLE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/mutex.h"
#include "server/tensor_buffer.h"
#include "server/variable_spec.h"

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

  // Makes `value` the variable's first value, at version 1, and wakes readers.
  void Publish(std::shared_ptr<TensorBuffer> value) ABSL_LOCKS_EXCLUDED(mu_);
  // Marks initialization as failed; waiting and later readers get `status`.
  void Fail(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until the variable is published or failed, then returns the current
  // value (or the failure).
  absl::StatusOr<VariableSnapshot> Read() const ABSL_LOCKS_EXCLUDED(mu_);

  // Metadata at the current version, after waiting as Read does.
  absl::StatusOr<VariableInfo> Info() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  bool Settled() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  VariableInfo InfoLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string name_;
  const DType dtype_;
  const TensorShape shape_;
  const bool trainable_;
  const size_t byte_size_;

  // State below is protected by mu_.
  mutable Mutex mu_;
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;  // 0 while pending.
  std::shared_ptr<const TensorBuffer> value_ ABSL_GUARDED_BY(mu_);
  absl::Status init_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_VARIABLE_H_
