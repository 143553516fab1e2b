#ifndef PARAM_SERVER_SERVER_DURABILITY_LOG_READER_H_
#define PARAM_SERVER_SERVER_DURABILITY_LOG_READER_H_

// Replay of the write-ahead log (format in log_format.h): every record in
// order, a torn tail trimmed, damage reported or set aside.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/variable_spec.h"
#include "server/change_log.h"
#include "server/durability/log_format.h"
#include "server/durability/table_codec.h"

namespace paramserver {

// One decoded record, as replay hands it to the visitor.
struct WalRecord {
  WalRecordType type = WalRecordType::kCheckpoint;
  int64_t checkpoint_sequence = 0;  // kCheckpoint.
  // kCreateVariable: all fields; kDeleteVariable: name.
  VariableInfo info;
  bool is_slot = false;  // kCreateVariable.
  // kCreateVariable: the value's bytes, valid only during the visitor call
  // (they point into the mapped segment).
  absl::string_view value;
  // kPush: the values in the order logged; their views are valid only
  // during the visitor call.
  std::vector<LoggedValue> values;
  // kPushWithId, kPushRowsWithId: the push's id (a view, as the values) and
  // answer indices.
  LoggedPushId push_id;
  // kPushRows, kPushRowsWithId: the rows' ids; `values` then hold
  // ids.size() rows each.
  std::vector<int64_t> row_ids;
  // kPushIds: the remembered ids with their answers.
  std::vector<RememberedPush> remembered;
  // kCreateTable (name in info.name): the table's spec.
  TableSpec table_spec;
  // kTableChange (name in info.name): the change.
  DecodedTableChange table_change;
};

struct ReplayOptions {
  // Corruption in the middle of the log (a bad record followed by good
  // ones, a missing segment): false returns DATA_LOSS; true stops replay
  // there, moves the damaged remainder aside (wal-N.log.corrupt-<offset>,
  // later segments renamed *.skipped) and reports it, so the server starts
  // from the state before the damage.
  bool skip_corruption = false;
};

struct ReplayReport {
  std::vector<std::string> segments;  // Replayed, in order.
  int64_t records = 0;                // Handed to the visitor.
  // Set when a torn final record (a crash mid-write) was cut off:
  // "wal-...log: torn record at byte 4096 (37 bytes: CRC mismatch) trimmed".
  std::string trimmed;
  // Set when skip_corruption skipped damage; the message DATA_LOSS would
  // have carried.
  std::string skipped_corruption;
  // Bytes over which replay computed CRCs: about the log's size. A torn or
  // damaged tail adds at most a small multiple of its own size (for tests
  // and the start-up log line).
  uint64_t bytes_checksummed = 0;
};

// Hands every record of the segments at or after `from_checkpoint_sequence`
// to `visitor`, in log order, including each segment's kCheckpoint record.
// A visitor's DATA_LOSS (the record does not fit the state before it) is
// damage at that record's offset, handled as below; any other visitor error
// stops replay and is returned with the file and offset prepended. A torn final
// record of the newest segment (bad length or CRC with no valid record after
// it) is expected after a crash: it is truncated away and noted in the report.
// Any other damage is DATA_LOSS naming the file and byte offset, unless
// options.skip_corruption. A directory without segments replays nothing.
absl::StatusOr<ReplayReport> ReplayWriteAheadLog(
    const std::string& dir, int64_t from_checkpoint_sequence,
    const std::function<absl::Status(const WalRecord&)>& visitor,
    const ReplayOptions& options = {});

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_LOG_READER_H_
