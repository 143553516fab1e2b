#ifndef PARAM_SERVER_SERVER_DURABILITY_DURABILITY_H_
#define PARAM_SERVER_SERVER_DURABILITY_DURABILITY_H_

// Makes a VariableStore survive restarts: every acknowledged creation,
// deletion and assignment goes to a write-ahead log first (gradient results
// per the fsync policy), checkpoints are written atomically, and start-up
// restores the newest good checkpoint and replays the log after it.
//
// On disk: <data_dir>/checkpoints/ckpt-N (checkpoint.h) and
// <data_dir>/wal/wal-N.log (log_format.h).

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "server/change_log.h"
#include "server/durability/log_reader.h"
#include "server/durability/log_writer.h"
#include "server/variable_store.h"

namespace paramserver {

struct DurabilityOptions {
  std::string data_dir;
  FsyncPolicy fsync_policy = FsyncPolicy::kEverySecond;
  int checkpoints_to_keep = 3;
  // Corruption in the middle of the log stops start-up (DATA_LOSS) unless
  // set; then the log is replayed up to the damage, which is set aside.
  bool skip_wal_corruption = false;
  // When every checkpoint is damaged, start-up stops unless set; then the
  // server starts from the log segments still on disk (those after the
  // oldest kept checkpoint), salvaging what they hold: variables created
  // since then, and values logged since then for those. Pushes to variables
  // that only the damaged checkpoints held are skipped (their names are
  // logged), so those variables are lost. Works after any number of
  // checkpoints.
  bool ignore_corrupt_checkpoints = false;
  // Tests only: runs in each checkpoint after its log segment started and
  // before its values are read.
  std::function<void()> after_segment_start_for_testing;
};

// Thread-safe.
class Durability final : public ChangeLog {
 public:
  // Creates a store with `store_options` whose change log is the returned
  // Durability, restores it from options.data_dir, opens the log and sets
  // *store to it; the Durability must outlive *store. Each step's findings
  // (checkpoints rejected, a torn log tail trimmed) are logged. DATA_LOSS
  // for damage the options do not allow skipping; I/O errors as
  // file_util.h maps them; the store's own Create errors. On error *store
  // is untouched.
  static absl::StatusOr<std::unique_ptr<Durability>> Open(
      const DurabilityOptions& options, const StoreOptions& store_options,
      std::unique_ptr<VariableStore>* store);
  ~Durability() override;

  // Writes a checkpoint of every variable (and, first in the log's new
  // segment, the push ids the store remembers), keeps the newest
  // checkpoints_to_keep and drops the log before the oldest kept. Returns
  // its sequence number. RESOURCE_EXHAUSTED when the disk is full (earlier
  // checkpoints and the log are untouched).
  absl::StatusOr<int64_t> Checkpoint() ABSL_LOCKS_EXCLUDED(checkpoint_mu_);

  // Fsyncs the log and closes it; later changes fail.
  absl::Status Close();

  // For operators (server/monitoring.h): checkpoints written since start
  // and failed, and the newest one's duration, value bytes and time
  // (absl::InfinitePast() before the first).
  struct CheckpointStats {
    int64_t written = 0;
    int64_t failed = 0;
    double last_seconds = 0;
    uint64_t last_value_bytes = 0;
    absl::Time last_time = absl::InfinitePast();
  };
  CheckpointStats checkpoint_stats() const ABSL_LOCKS_EXCLUDED(stats_mu_);
  const WriteAheadLog& log() const { return *log_; }

  // ChangeLog.
  absl::StatusOr<LogPosition> AppendCreate(const VariableInfo& info,
                                           bool is_slot,
                                           absl::string_view value) override;
  absl::StatusOr<LogPosition> AppendDelete(absl::string_view name) override;
  absl::StatusOr<LogPosition> AppendPush(absl::Span<const LoggedValue> values,
                                         ChangeSource source,
                                         const LoggedPushId& push_id) override;
  absl::StatusOr<LogPosition> AppendRows(const LoggedRows& rows,
                                         ChangeSource source) override;
  absl::StatusOr<LogPosition> AppendPushIds(
      absl::Span<const RememberedPush> remembered) override;
  absl::StatusOr<LogPosition> AppendCreateTable(absl::string_view name,
                                                const TableSpec& spec) override;
  absl::StatusOr<LogPosition> AppendTableChange(absl::string_view name,
                                                int64_t entry_floats,
                                                const TableChange& change,
                                                ChangeSource source) override;
  absl::Status Commit(LogPosition position) override;

 private:
  explicit Durability(const DurabilityOptions& options) : options_(options) {}
  absl::StatusOr<int64_t> RestoreCheckpoint();
  // Checkpoint's work; `value_bytes` gets the bytes of values written.
  absl::StatusOr<int64_t> WriteNextCheckpoint(uint64_t* value_bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(checkpoint_mu_);
  absl::Status ReplayLog(int64_t from_sequence);
  absl::Status ApplyRecord(const WalRecord& record);
  // Salvage replay (see ignore_corrupt_checkpoints): the values of `push`
  // for variables the store lacks are dropped and their names remembered.
  absl::Status ApplySalvagedPush(absl::Span<const LoggedValue> push);
  // The same for a sparse push's rows.
  absl::Status ApplySalvagedRows(absl::Span<const int64_t> ids,
                                 absl::Span<const LoggedValue> push);

  const DurabilityOptions options_;
  // Set in Open, before the store is handed out. The store is the caller's
  // once Open returns; only Checkpoint reads it then.
  VariableStore* store_ = nullptr;
  std::unique_ptr<WriteAheadLog> log_;
  // Start-up only (before the store serves): set when every checkpoint was
  // damaged and ignore_corrupt_checkpoints let start-up go on.
  bool salvage_ = false;
  std::set<std::string> lost_;  // Salvage: names the log could not restore.

  Mutex checkpoint_mu_;  // One checkpoint at a time.
  int64_t last_sequence_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;

  // Apart from checkpoint_mu_, so that reading them never waits for a
  // checkpoint being written.
  mutable Mutex stats_mu_;
  CheckpointStats checkpoint_stats_ ABSL_GUARDED_BY(stats_mu_);
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_DURABILITY_H_
