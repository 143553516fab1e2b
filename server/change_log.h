#ifndef PARAM_SERVER_SERVER_CHANGE_LOG_H_
#define PARAM_SERVER_SERVER_CHANGE_LOG_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/variable_spec.h"

namespace paramserver {

// Why a value changed: an assignment the client chose, or an optimizer step.
// Durability policies may treat them differently (see write_ahead_log.h).
enum class ChangeSource { kAssign, kGradient };

// Where the store records every change before acknowledging it. The store
// calls these while holding the changed variable's lock, so per variable the
// log's order is the store's. A non-OK status means the change is not
// durable: the store reports it to the caller instead of acknowledging.
// Implementations must be thread-safe.
class ChangeLog {
 public:
  virtual ~ChangeLog() = default;
  virtual absl::Status LogCreate(const VariableInfo& info, bool is_slot,
                                 absl::string_view value) = 0;
  virtual absl::Status LogDelete(absl::string_view name) = 0;
  virtual absl::Status LogSetValue(absl::string_view name, int64_t version,
                                   absl::string_view value,
                                   ChangeSource source) = 0;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_CHANGE_LOG_H_
