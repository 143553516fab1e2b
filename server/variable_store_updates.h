#ifndef PARAM_SERVER_SERVER_VARIABLE_STORE_UPDATES_H_
#define PARAM_SERVER_SERVER_VARIABLE_STORE_UPDATES_H_

// What VariableStore's dense pushes (variable_store_push.cc) and row pushes
// (variable_store_rows.cc) share: locking the variables an update touches,
// the checks before it, and undoing it. Internal to the store.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/dtype.h"
#include "common/update_spec.h"
#include "server/row_layout.h"
#include "server/tensor_buffer.h"
#include "server/variable.h"

namespace paramserver {
namespace store_internal {

// The row layout of `variable`, whose name, shape and dtype never change
// (so no lock is needed); INVALID_ARGUMENT for a scalar.
absl::StatusOr<RowLayout> LayoutOf(const Variable& variable);

// Holds the locks of a set of variables, taken in name order so that two
// pushes over overlapping sets cannot deadlock.
class UpdateLocks {
 public:
  explicit UpdateLocks(std::vector<std::shared_ptr<Variable>> variables)
      ABSL_NO_THREAD_SAFETY_ANALYSIS : variables_(std::move(variables)) {
    std::sort(
        variables_.begin(), variables_.end(),
        [](const auto& a, const auto& b) { return a->name() < b->name(); });
    variables_.erase(std::unique(variables_.begin(), variables_.end()),
                     variables_.end());
    for (const auto& variable : variables_) {
      absl::Status status = variable->LockForUpdate();
      if (!status.ok() && status_.ok()) status_ = status;
    }
  }
  ~UpdateLocks() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (const auto& variable : variables_) variable->Unlock();
  }
  // The first initialization failure among the variables, if any.
  const absl::Status& status() const { return status_; }
  // The locked variables, in lock order.
  const std::vector<std::shared_ptr<Variable>>& variables() const {
    return variables_;
  }

 private:
  std::vector<std::shared_ptr<Variable>> variables_;
  absl::Status status_;
};

// INVALID_ARGUMENT for a gradient to a variable of a non-floating dtype and
// for assign_add to a bool.
absl::Status CheckUpdateKind(UpdateKind kind, const Variable& variable);

// ABORTED when `base_version` is more than max_staleness (> 0) behind the
// variable's current `version`.
absl::Status CheckStaleness(std::optional<int64_t> base_version,
                            const Variable& variable, int64_t version,
                            int64_t max_staleness);

// var += delta, elementwise in `dtype` (nothing for bool); `delta` need not
// be aligned.
void AssignAdd(DType dtype, char* var, absl::string_view delta);

// A variable's value and version before an update, to undo it.
struct SavedValue {
  Variable* variable;
  std::shared_ptr<TensorBuffer> value;
  int64_t version;
};
// The locked `variables`' values (holding them makes updates copy on write).
std::vector<SavedValue> SaveValues(
    const std::vector<std::shared_ptr<Variable>>& variables);
// Puts the saved values and versions back; the locks must still be held.
void RestoreValues(std::vector<SavedValue>& saved);

}  // namespace store_internal
}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_VARIABLE_STORE_UPDATES_H_
