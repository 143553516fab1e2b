#ifndef PARAM_SERVER_SERVER_DURABILITY_LOG_WRITER_H_
#define PARAM_SERVER_SERVER_DURABILITY_LOG_WRITER_H_

// The write-ahead log's writer: appends records (format in log_format.h) to
// the newest segment, fsyncs them per policy with group commit, and starts
// a new segment at each checkpoint.
//
// The checkpoint protocol (the wiring's job, in this order):
//   1. log.StartSegment(N)            new records now go to wal-N.log
//   2. snapshot the store, WriteCheckpoint(root, N, ...)
//   3. kept = PruneCheckpoints(root, K); log.RemoveSegmentsBefore(kept[0])
// Restore: ReadLatestCheckpoint -> sequence S (0 if none), then
// ReplayWriteAheadLog(dir, S, ...) applying each record unconditionally in
// order, then WriteAheadLog::Open(options, S). Because a record carries the
// full resulting state and the snapshot is taken after StartSegment, replay
// over a snapshot that already contains some of the records converges to the
// logged state.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/mutex.h"
#include "common/variable_spec.h"
#include "server/change_log.h"
#include "server/durability/env.h"
#include "server/durability/log_format.h"
#include "server/metrics.h"

namespace paramserver {

// When log records reach the disk, after Redis's appendfsync. In every
// policy a logged record is written to the file (write(2), into the kernel's
// page cache) before its Log* call returns, so it survives kill -9 of the
// server; the policies differ in fsync, which decides what survives power
// loss or a kernel crash, and in whether gradient results are logged.
enum class FsyncPolicy {
  // appendfsync always: each Log* call returns only after fdatasync covered
  // its record (concurrent callers share one fsync: group commit).
  // kill -9: loses nothing acknowledged. Power loss: loses nothing
  // acknowledged. Slowest: one fsync per acknowledged batch of writes.
  kAlways,
  // appendfsync everysec: a background thread fsyncs every flush_interval.
  // kill -9: loses nothing acknowledged. Power loss: loses what was logged
  // in the last flush_interval or so (up to two intervals if an fsync is
  // slow) -- creations, deletions, assignments and gradient results alike.
  kEverySecond,
  // Checkpoint only: gradient results (ChangeSource::kGradient) are not
  // logged at all; creations, deletions and assignments are written but
  // fsynced only at StartSegment and Close.
  // kill -9: loses every gradient update since the last checkpoint (such
  // variables restart from the checkpoint's value and version, or from
  // their last logged assignment); nothing else. Power loss: additionally
  // whatever the kernel had not yet written back (typically up to ~30 s of
  // creations, deletions and assignments since the last checkpoint).
  kCheckpointOnly,
};

// "always", "everysec", "checkpoint"; INVALID_ARGUMENT otherwise.
absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(absl::string_view name);

struct WalOptions {
  std::string dir;  // Created if missing.
  FsyncPolicy fsync_policy = FsyncPolicy::kEverySecond;
  absl::Duration flush_interval = absl::Seconds(1);  // kEverySecond only.
};

// Appends records to the newest segment. Thread-safe: records from
// concurrent callers are whole and in the order their Append* calls took
// the log's lock.
//
// Errors: INVALID_ARGUMENT for a record too large (payload >= 4 GiB) or a
// bad sequence; RESOURCE_EXHAUSTED when the disk is full (the partial record
// is cut off again and the log stays usable; the change must not be
// acknowledged); other I/O errors as in file_util.h. If an fsync fails, or a
// partial record cannot be cut off, the log is broken: that error is
// returned by every later call (like Redis, which refuses writes once its
// log cannot be fsynced), and the server should stop and restart from disk.
class WriteAheadLog {
 public:
  // Opens the newest segment in options.dir for appending, or creates
  // wal-<checkpoint_sequence>.log when there is none at or after
  // checkpoint_sequence (the checkpoint the store was restored from, 0 for
  // none). Precondition: ReplayWriteAheadLog has run on the directory, so
  // that no torn record remains at the end. Starts the flusher thread for
  // kEverySecond.
  static absl::StatusOr<std::unique_ptr<WriteAheadLog>> Open(
      const WalOptions& options, int64_t checkpoint_sequence);
  ~WriteAheadLog();  // Close(), ignoring its status.
  WriteAheadLog(const WriteAheadLog&) = delete;
  WriteAheadLog& operator=(const WriteAheadLog&) = delete;

  // Each Append* writes one record and returns the log's position after it
  // (bytes appended over all segments); Commit(position) then returns once
  // the record is as durable as the policy promises (kAlways: fsynced, with
  // group commit). Records appear in the order the Append* calls took the
  // log's lock, so a caller that must order its record after a change to
  // the store appends while still holding the lock that ordered the change.
  absl::StatusOr<uint64_t> AppendCreate(const VariableInfo& info, bool is_slot,
                                        absl::string_view value)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<uint64_t> AppendDelete(absl::string_view name)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The values and versions the variables (and slots) of one push have
  // after it, as one record. Under kCheckpointOnly a kGradient push is not
  // logged (the current position is returned). INVALID_ARGUMENT for no
  // values. A push with an id is a kPushWithId record.
  absl::StatusOr<uint64_t> AppendPush(absl::Span<const LoggedValue> values,
                                      ChangeSource source,
                                      const LoggedPushId& push_id = {})
      ABSL_LOCKS_EXCLUDED(mu_);
  // The rows a sparse push changed, as one kPushRows record; skipped as
  // AppendPush skips under kCheckpointOnly. INVALID_ARGUMENT for no values
  // or no ids.
  absl::StatusOr<uint64_t> AppendRows(const LoggedRows& rows,
                                      ChangeSource source)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A dynamic table's creation, as one kCreateTable record.
  absl::StatusOr<uint64_t> AppendCreateTable(absl::string_view name,
                                             const TableSpec& spec)
      ABSL_LOCKS_EXCLUDED(mu_);
  // One change to a dynamic table, as one kTableChange record; a kGradient
  // change is skipped under kCheckpointOnly, as AppendPush skips.
  absl::StatusOr<uint64_t> AppendTableChange(absl::string_view name,
                                             int64_t entry_floats,
                                             const TableChange& change,
                                             ChangeSource source)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The store's remembered push ids, as one kPushIds record.
  absl::StatusOr<uint64_t> AppendPushIds(
      absl::Span<const RememberedPush> remembered) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Commit(uint64_t position) ABSL_LOCKS_EXCLUDED(mu_);

  // Append* followed by Commit.
  absl::Status LogCreate(const VariableInfo& info, bool is_slot,
                         absl::string_view value) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status LogDelete(absl::string_view name) ABSL_LOCKS_EXCLUDED(mu_);
  // A push of one variable.
  absl::Status LogSetValue(absl::string_view name, int64_t version,
                           absl::string_view value, ChangeSource source)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Fsyncs the current segment and continues in a new one,
  // wal-<checkpoint_sequence>.log, which starts with a kCheckpoint record.
  // INVALID_ARGUMENT unless checkpoint_sequence is above the current
  // segment's. Call before snapshotting the store for that checkpoint.
  absl::Status StartSegment(int64_t checkpoint_sequence)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes the segments older than wal-<checkpoint_sequence>.log, never the
  // current one. Pass the oldest checkpoint kept, so that restore can still
  // fall back to it.
  absl::Status RemoveSegmentsBefore(int64_t checkpoint_sequence)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Fsyncs everything logged so far.
  absl::Status Sync() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the flusher, fsyncs and closes. Later calls fail.
  absl::Status Close() ABSL_LOCKS_EXCLUDED(mu_);

  int64_t segment_sequence() const ABSL_LOCKS_EXCLUDED(mu_);
  // Fsyncs so far, from any thread; for tests and metrics.
  int64_t sync_count() const ABSL_LOCKS_EXCLUDED(mu_);

  // For operators (server/monitoring.h): records and bytes appended since
  // Open, fsyncs of the log, and how long each fsync took.
  struct Stats {
    int64_t records = 0;
    uint64_t bytes = 0;
    int64_t syncs = 0;
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);
  const Histogram& sync_seconds() const { return sync_seconds_; }
  // The position up to which records are known fsynced; for tests.
  uint64_t synced_position() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Flusher;

  explicit WriteAheadLog(const WalOptions& options);

  // Writes one record: header, then `pieces` as the payload. Returns the
  // position after it.
  absl::StatusOr<uint64_t> Append(WalRecordType type,
                                  absl::Span<const absl::string_view> pieces)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status AppendLocked(WalRecordType type,
                            absl::Span<const absl::string_view> pieces)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Group commit: returns once the bytes up to `target` (an appended_
  // value) are fsynced. While one caller's fsync runs, others wait for it
  // instead of queueing on a lock; the first not covered leads the next.
  absl::Status SyncUpTo(uint64_t target) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until no fsync runs and takes the right to run one (syncing_).
  void BeginSyncLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives that right back; on success the bytes up to `upto` are synced. A
  // failed fsync breaks the log when `breaks`, else its status is returned.
  absl::Status EndSync(uint64_t upto, absl::Status status, bool breaks = true)
      ABSL_LOCKS_EXCLUDED(mu_);
  // file.Sync(), its duration observed in sync_seconds_.
  absl::Status TimedSync(WritableFile& file);
  // Writes wal-<sequence>.log whole (its kCheckpoint record, fsynced with
  // the directory) and opens it for appending.
  absl::StatusOr<std::unique_ptr<WritableFile>> CreateSegment(
      int64_t sequence) const;

  // Constant after construction.
  const WalOptions options_;

  // State below is protected by mu_, which is never held across an fsync.
  mutable Mutex mu_;
  // True while one thread fsyncs file_ without mu_ (or, in StartSegment,
  // replaces it): only one does at a time, and file_ stays meanwhile.
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<WritableFile> file_ ABSL_GUARDED_BY(mu_);
  int64_t segment_sequence_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;  // Bytes, over all segments.
  uint64_t synced_ ABSL_GUARDED_BY(mu_) = 0;    // Of appended_.
  int64_t sync_count_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t records_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status broken_ ABSL_GUARDED_BY(mu_);  // Sticky; see the class comment.

  std::unique_ptr<Flusher> flusher_;  // Set in Open, reset in Close.
  Histogram sync_seconds_{FsyncBucketsSeconds()};
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_LOG_WRITER_H_
