#ifndef PARAM_SERVER_SERVER_CHANGE_LOG_H_
#define PARAM_SERVER_SERVER_CHANGE_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/table_spec.h"
#include "common/variable_spec.h"
#include "server/table_change.h"

namespace paramserver {

// Why a value changed: an assignment the client chose, or an optimizer step.
// Durability policies may treat them differently (FsyncPolicy in
// server/durability/log_writer.h: kCheckpointOnly does not log kGradient).
enum class ChangeSource { kAssign, kGradient };

// A variable's value and version after a change; the views are not owned.
struct LoggedValue {
  absl::string_view name;
  int64_t version = 0;
  absl::string_view value;
};

// The id a push carried (PushSpec::push_id) as its log record keeps it, so
// that replay remembers the id with its answer: `answer` indexes the logged
// values that are the pushed variables, in the push's request order (the
// other values are their optimizer slots).
struct LoggedPushId {
  absl::string_view id;  // Empty: the push carried none.
  std::vector<uint32_t> answer;
};

// The rows a sparse push changed (VariableStore::PushRows): for the variable
// and each of its optimizer slots, all of one shape, the new bytes of the
// rows `ids` and the version after the push. Views, not owned.
struct LoggedRows {
  absl::Span<const int64_t> ids;  // Each once.
  // value: ids.size() rows, in the order of `ids`.
  std::vector<LoggedValue> values;
  // The push's id, if it carried one; its answer is the variable, values[0].
  LoggedPushId push_id;
};

// A push id a store remembers, with the answer the push got.
struct RememberedPush {
  std::string id;
  std::vector<VariableInfo> answer;
};

// A place in the log: every change appended before it lies before it.
using LogPosition = uint64_t;

// Where the store records every change before acknowledging it, in two
// steps: Append* fixes the change's place in the log (and writes it), Commit
// waits until the log up to that place is as durable as the policy promises.
// Splitting them lets the store append under the lock that orders changes to
// a name and wait for the disk after releasing it, so that concurrent
// changes share one fsync.
//
// The store appends every change to a name (creation, deletion, new value)
// in the order the changes take effect (VariableStore::log_mu_), so that
// replaying any prefix of the log gives a state the store was in, or would
// have been in had the in-flight changes failed. A non-OK status means the
// change is not durable: the store reports it to the caller instead of
// acknowledging. Implementations must be thread-safe.
class ChangeLog {
 public:
  virtual ~ChangeLog() = default;
  virtual absl::StatusOr<LogPosition> AppendCreate(const VariableInfo& info,
                                                   bool is_slot,
                                                   absl::string_view value) = 0;
  virtual absl::StatusOr<LogPosition> AppendDelete(absl::string_view name) = 0;
  // One record for a whole push: every variable's (and slot's) value and
  // version after it, so that replay applies all of them or none. `source`
  // is kGradient when every update of the push was an optimizer step.
  // `push_id` is the push's id (empty id: none).
  virtual absl::StatusOr<LogPosition> AppendPush(
      absl::Span<const LoggedValue> values, ChangeSource source,
      const LoggedPushId& push_id) = 0;
  // One record for a sparse push: only the rows it changed, so that a step
  // touching a few rows of a large table logs those rows and not the table.
  virtual absl::StatusOr<LogPosition> AppendRows(const LoggedRows& rows,
                                                 ChangeSource source) = 0;
  // A dynamic table's creation (server/dynamic_table.h): its name and spec.
  // Replay of a creation of a table that exists keeps it (a checkpoint
  // logs every table again at the start of its segment).
  virtual absl::StatusOr<LogPosition> AppendCreateTable(
      absl::string_view name, const TableSpec& spec) = 0;
  // One change to the table `name`, whose entries hold `entry_floats`
  // floats, as DynamicTable hands it to its TableChangeLog.
  virtual absl::StatusOr<LogPosition> AppendTableChange(
      absl::string_view name, int64_t entry_floats, const TableChange& change,
      ChangeSource source) = 0;
  // The push ids the store remembers, oldest first, as one record: appended
  // at a checkpoint, so that the ids logged before it survive the log
  // segments it lets go. Not appended when empty.
  virtual absl::StatusOr<LogPosition> AppendPushIds(
      absl::Span<const RememberedPush> remembered) = 0;
  // Returns once everything appended up to `position` is durable per the
  // policy, or the error that makes it not so.
  virtual absl::Status Commit(LogPosition position) = 0;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_CHANGE_LOG_H_
