#include "server/durability/log_writer.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/durability/coding.h"
#include "server/durability/table_codec.h"

namespace paramserver {
namespace {

using wal::CheckValue;
using wal::EncodeHeader;
using wal::kFlagSlot;
using wal::kFlagTrainable;
using wal::kMaxPayload;
using wal::ListSegments;
using wal::TotalSize;

std::string EncodeCheckpointMeta(int64_t sequence) {
  std::string meta;
  PutFixed64(&meta, static_cast<uint64_t>(sequence));
  return meta;
}

std::string EncodeCreateMeta(const VariableInfo& info, bool is_slot) {
  std::string meta;
  PutLengthPrefixed(&meta, info.name);
  PutFixed32(&meta, static_cast<uint32_t>(info.dtype));
  PutFixed32(&meta, static_cast<uint32_t>(info.shape.size()));
  for (int64_t dim : info.shape) PutFixed64(&meta, static_cast<uint64_t>(dim));
  meta.push_back(static_cast<char>((info.trainable ? kFlagTrainable : 0) |
                                   (is_slot ? kFlagSlot : 0)));
  PutFixed64(&meta, static_cast<uint64_t>(info.version));
  return meta;
}

}  // namespace

absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(absl::string_view name) {
  if (name == "always") return FsyncPolicy::kAlways;
  if (name == "everysec") return FsyncPolicy::kEverySecond;
  if (name == "checkpoint") return FsyncPolicy::kCheckpointOnly;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown fsync policy \"", name,
                   "\"; expected always, everysec or checkpoint"));
}

// ---- The flusher thread (kEverySecond) ----

// Waits on std::condition_variable rather than common/mutex.h's Mutex, which
// has no timed wait; std:: primitives are just as visible to TSan. Guards
// only its own stop flag.
class WriteAheadLog::Flusher {
 public:
  Flusher(WriteAheadLog* log, absl::Duration interval)
      : log_(log),
        interval_(absl::ToChronoMicroseconds(interval)),
        thread_([this] { Run(); }) {}

  ~Flusher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
      lock.unlock();
      // A failure breaks the log (see Sync), so the next Log* call reports
      // it; there is nobody to return it to here.
      log_->Sync().IgnoreError();
      lock.lock();
    }
  }

  WriteAheadLog* const log_;
  const std::chrono::microseconds interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;   // Guarded by mu_.
  std::thread thread_;  // Last: starts once the fields above exist.
};

// ---- WriteAheadLog ----

WriteAheadLog::WriteAheadLog(const WalOptions& options) : options_(options) {}

WriteAheadLog::~WriteAheadLog() { Close().IgnoreError(); }

absl::StatusOr<std::unique_ptr<WriteAheadLog>> WriteAheadLog::Open(
    const WalOptions& options, int64_t checkpoint_sequence) {
  if (checkpoint_sequence < 0) {
    return absl::InvalidArgumentError("negative checkpoint sequence");
  }
  absl::Status status = CreateDirectories(options.dir);
  if (!status.ok()) return status;
  absl::StatusOr<std::vector<int64_t>> segments = ListSegments(options.dir);
  if (!segments.ok()) return segments.status();
  std::unique_ptr<WriteAheadLog> log(new WriteAheadLog(options));
  const bool reuse =
      !segments->empty() && segments->back() >= checkpoint_sequence;
  const int64_t sequence = reuse ? segments->back() : checkpoint_sequence;
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      reuse
          ? WritableFile::Open(JoinPath(options.dir, WalSegmentName(sequence)),
                               WritableFile::Mode::kAppend)
          : log->CreateSegment(sequence);
  // A segment trimmed to nothing has lost its checkpoint record: rewrite.
  if (file.ok() && (*file)->size() == 0) {
    (*file)->Close().IgnoreError();
    file = log->CreateSegment(sequence);
  }
  if (!file.ok()) return file.status();
  {
    MutexLock lock(&log->mu_);
    log->file_ = *std::move(file);
    log->segment_sequence_ = sequence;
  }
  if (options.fsync_policy == FsyncPolicy::kEverySecond) {
    log->flusher_ =
        std::make_unique<Flusher>(log.get(), options.flush_interval);
  }
  return log;
}

absl::StatusOr<std::unique_ptr<WritableFile>> WriteAheadLog::CreateSegment(
    int64_t sequence) const {
  const std::string name = WalSegmentName(sequence);
  const std::string meta = EncodeCheckpointMeta(sequence);
  absl::Status status = WriteFileAtomically(
      options_.dir, name,
      absl::StrCat(EncodeHeader(WalRecordType::kCheckpoint, {meta}), meta));
  if (!status.ok()) return status;
  return WritableFile::Open(JoinPath(options_.dir, name),
                            WritableFile::Mode::kAppend);
}

absl::StatusOr<uint64_t> WriteAheadLog::AppendCreate(const VariableInfo& info,
                                                     bool is_slot,
                                                     absl::string_view value) {
  absl::Status status = CheckValue(info, value);
  if (!status.ok()) return status;
  return Append(WalRecordType::kCreateVariable,
                {EncodeCreateMeta(info, is_slot), value});
}

absl::StatusOr<uint64_t> WriteAheadLog::AppendDelete(absl::string_view name) {
  std::string meta;
  PutLengthPrefixed(&meta, name);
  return Append(WalRecordType::kDeleteVariable, {meta});
}

absl::StatusOr<uint64_t> WriteAheadLog::AppendPush(
    absl::Span<const LoggedValue> values, ChangeSource source,
    const LoggedPushId& push_id) {
  if (values.empty()) return absl::InvalidArgumentError("empty push");
  for (uint32_t index : push_id.answer) {
    if (index >= values.size()) {
      return absl::InvalidArgumentError("push answer index out of range");
    }
  }
  if (source == ChangeSource::kGradient &&
      options_.fsync_policy == FsyncPolicy::kCheckpointOnly) {
    MutexLock lock(&mu_);
    return appended_;
  }
  // Small metadata strings between the values, which are not copied.
  std::vector<std::string> metas(values.size());
  std::vector<absl::string_view> pieces;
  pieces.reserve(2 * values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (i == 0) PutFixed32(&metas[0], static_cast<uint32_t>(values.size()));
    PutLengthPrefixed(&metas[i], values[i].name);
    PutFixed64(&metas[i], static_cast<uint64_t>(values[i].version));
    PutFixed64(&metas[i], values[i].value.size());
    pieces.push_back(metas[i]);
    pieces.push_back(values[i].value);
  }
  if (push_id.id.empty()) return Append(WalRecordType::kPush, pieces);
  std::string id_meta;
  PutLengthPrefixed(&id_meta, push_id.id);
  PutFixed32(&id_meta, static_cast<uint32_t>(push_id.answer.size()));
  for (uint32_t index : push_id.answer) PutFixed32(&id_meta, index);
  pieces.insert(pieces.begin(), id_meta);
  return Append(WalRecordType::kPushWithId, pieces);
}

absl::StatusOr<uint64_t> WriteAheadLog::AppendRows(const LoggedRows& rows,
                                                   ChangeSource source) {
  if (rows.values.empty() || rows.ids.empty()) {
    return absl::InvalidArgumentError("empty row push");
  }
  if (source == ChangeSource::kGradient &&
      options_.fsync_policy == FsyncPolicy::kCheckpointOnly) {
    MutexLock lock(&mu_);
    return appended_;
  }
  std::string ids;
  ids.reserve(8 + 8 * rows.ids.size());
  PutFixed64(&ids, rows.ids.size());
  for (int64_t id : rows.ids) PutFixed64(&ids, static_cast<uint64_t>(id));
  std::vector<std::string> metas(rows.values.size());
  std::vector<absl::string_view> pieces;
  pieces.reserve(1 + 2 * rows.values.size());
  pieces.push_back(ids);
  for (size_t i = 0; i < rows.values.size(); ++i) {
    const LoggedValue& value = rows.values[i];
    if (value.value.size() % rows.ids.size() != 0) {
      return absl::InvalidArgumentError("row push value is not whole rows");
    }
    if (i == 0)
      PutFixed32(&metas[0], static_cast<uint32_t>(rows.values.size()));
    PutLengthPrefixed(&metas[i], value.name);
    PutFixed64(&metas[i], static_cast<uint64_t>(value.version));
    PutFixed64(&metas[i], value.value.size());
    pieces.push_back(metas[i]);
    pieces.push_back(value.value);
  }
  if (rows.push_id.id.empty()) return Append(WalRecordType::kPushRows, pieces);
  if (rows.push_id.answer.size() != 1 ||
      rows.push_id.answer[0] >= rows.values.size()) {
    return absl::InvalidArgumentError("row push answer index out of range");
  }
  std::string id_meta;
  PutLengthPrefixed(&id_meta, rows.push_id.id);
  PutFixed32(&id_meta, 1);
  PutFixed32(&id_meta, rows.push_id.answer[0]);
  pieces.insert(pieces.begin(), id_meta);
  return Append(WalRecordType::kPushRowsWithId, pieces);
}

absl::StatusOr<uint64_t> WriteAheadLog::AppendCreateTable(
    absl::string_view name, const TableSpec& spec) {
  std::string payload;
  PutLengthPrefixed(&payload, name);
  EncodeTableSpec(spec, &payload);
  return Append(WalRecordType::kCreateTable, {payload});
}

absl::StatusOr<uint64_t> WriteAheadLog::AppendTableChange(
    absl::string_view name, int64_t entry_floats, const TableChange& change,
    ChangeSource source) {
  if (source == ChangeSource::kGradient &&
      options_.fsync_policy == FsyncPolicy::kCheckpointOnly) {
    MutexLock lock(&mu_);
    return appended_;
  }
  std::string payload;
  PutLengthPrefixed(&payload, name);
  EncodeTableChange(change, entry_floats, &payload);
  return Append(WalRecordType::kTableChange, {payload});
}

absl::StatusOr<uint64_t> WriteAheadLog::AppendPushIds(
    absl::Span<const RememberedPush> remembered) {
  std::string payload;
  PutFixed32(&payload, static_cast<uint32_t>(remembered.size()));
  for (const RememberedPush& push : remembered) {
    PutLengthPrefixed(&payload, push.id);
    PutFixed32(&payload, static_cast<uint32_t>(push.answer.size()));
    for (const VariableInfo& info : push.answer) {
      PutLengthPrefixed(&payload, info.name);
      PutFixed32(&payload, static_cast<uint32_t>(info.dtype));
      PutFixed32(&payload, static_cast<uint32_t>(info.shape.size()));
      for (int64_t dim : info.shape) {
        PutFixed64(&payload, static_cast<uint64_t>(dim));
      }
      payload.push_back(static_cast<char>(info.trainable ? kFlagTrainable : 0));
      PutFixed64(&payload, static_cast<uint64_t>(info.version));
    }
  }
  return Append(WalRecordType::kPushIds, {payload});
}

absl::Status WriteAheadLog::Commit(uint64_t position) {
  if (options_.fsync_policy != FsyncPolicy::kAlways) return absl::OkStatus();
  return SyncUpTo(position);
}

namespace {

absl::Status Committed(WriteAheadLog& log, absl::StatusOr<uint64_t> position) {
  if (!position.ok()) return position.status();
  return log.Commit(*position);
}

}  // namespace

absl::Status WriteAheadLog::LogCreate(const VariableInfo& info, bool is_slot,
                                      absl::string_view value) {
  return Committed(*this, AppendCreate(info, is_slot, value));
}

absl::Status WriteAheadLog::LogDelete(absl::string_view name) {
  return Committed(*this, AppendDelete(name));
}

absl::Status WriteAheadLog::LogSetValue(absl::string_view name, int64_t version,
                                        absl::string_view value,
                                        ChangeSource source) {
  const LoggedValue logged{name, version, value};
  return Committed(*this, AppendPush({logged}, source));
}

absl::StatusOr<uint64_t> WriteAheadLog::Append(
    WalRecordType type, absl::Span<const absl::string_view> pieces) {
  MutexLock lock(&mu_);
  absl::Status status = AppendLocked(type, pieces);
  if (!status.ok()) return status;
  return appended_;
}

absl::Status WriteAheadLog::AppendLocked(
    WalRecordType type, absl::Span<const absl::string_view> pieces) {
  if (!broken_.ok()) return broken_;
  if (file_ == nullptr) {
    return absl::FailedPreconditionError("write-ahead log is closed");
  }
  const uint64_t payload = TotalSize(pieces);
  if (payload > kMaxPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("log record of ", payload, " bytes is too large"));
  }
  const std::string header = EncodeHeader(type, pieces);
  std::vector<absl::string_view> all = {header};
  all.insert(all.end(), pieces.begin(), pieces.end());
  const uint64_t before = file_->size();
  absl::Status status = file_->AppendV(all);
  if (!status.ok()) {
    // Cut off the partial record so the log stays readable and usable.
    absl::Status undo = file_->Truncate(before);
    if (!undo.ok()) {
      broken_ = absl::Status(
          undo.code(),
          absl::StrCat("write-ahead log is broken: ", undo.message(), " after ",
                       status.message()));
    }
    return status;
  }
  appended_ += header.size() + payload;
  ++records_;
  return absl::OkStatus();
}

absl::Status WriteAheadLog::SyncUpTo(uint64_t target) {
  uint64_t upto;
  WritableFile* file;
  {
    MutexLock lock(&mu_);
    // Wait while another caller's fsync runs: it may cover `target`. Waiters
    // do not queue behind one another; when it ends, every waiter it covered
    // returns, and one of the rest leads the next fsync for them all.
    mu_.Await([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return !syncing_ || synced_ >= target || !broken_.ok();
    });
    if (!broken_.ok()) return broken_;
    if (synced_ >= target) return absl::OkStatus();  // Someone's fsync did.
    if (file_ == nullptr) {
      return absl::FailedPreconditionError("write-ahead log is closed");
    }
    syncing_ = true;
    file = file_.get();  // Stays: replacing it needs syncing_, which we hold.
    upto = appended_;
  }
  return EndSync(upto, TimedSync(*file));  // Appends continue meanwhile.
}

absl::Status WriteAheadLog::EndSync(uint64_t upto, absl::Status status,
                                    bool breaks) {
  MutexLock lock(&mu_);
  syncing_ = false;
  mu_.NotifyAll();
  if (!status.ok() && !breaks) return status;
  if (!status.ok()) {
    // After a failed fsync the kernel may have dropped the dirty pages:
    // what is on disk is unknown, so stop accepting changes.
    broken_ = absl::Status(
        status.code(),
        absl::StrCat("write-ahead log is broken: ", status.message()));
    return broken_;
  }
  synced_ = std::max(synced_, upto);
  ++sync_count_;
  return absl::OkStatus();
}

void WriteAheadLog::BeginSyncLocked() {
  mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !syncing_; });
  syncing_ = true;
}

absl::Status WriteAheadLog::Sync() {
  uint64_t target;
  {
    MutexLock lock(&mu_);
    if (!broken_.ok()) return broken_;
    if (file_ == nullptr) {
      return absl::FailedPreconditionError("write-ahead log is closed");
    }
    target = appended_;
  }
  return SyncUpTo(target);
}

absl::Status WriteAheadLog::StartSegment(int64_t checkpoint_sequence) {
  int64_t current;
  {
    MutexLock lock(&mu_);
    if (!broken_.ok()) return broken_;
    if (file_ == nullptr) {
      return absl::FailedPreconditionError("write-ahead log is closed");
    }
    BeginSyncLocked();
    current = segment_sequence_;
  }
  if (checkpoint_sequence <= current) {
    return EndSync(0,
                   absl::InvalidArgumentError(absl::StrCat(
                       "checkpoint sequence ", checkpoint_sequence,
                       " is not above the current segment's ", current)),
                   /*breaks=*/false);
  }
  // The new segment is written and fsynced without mu_, so appends (which
  // the store makes under its ordering lock) go on into the old one.
  absl::StatusOr<std::unique_ptr<WritableFile>> next =
      CreateSegment(checkpoint_sequence);
  if (!next.ok()) return EndSync(0, next.status(), /*breaks=*/false);
  std::unique_ptr<WritableFile> old;
  uint64_t upto;
  {
    MutexLock lock(&mu_);  // Records go to one segment or the next.
    old = std::exchange(file_, *std::move(next));
    segment_sequence_ = checkpoint_sequence;
    upto = appended_;
  }
  // Everything before the switch is in the old segment: one fsync covers it.
  absl::Status status = TimedSync(*old);
  old->Close().IgnoreError();  // Synced: nothing of the segment is lost.
  return EndSync(upto, status);
}

absl::Status WriteAheadLog::RemoveSegmentsBefore(int64_t checkpoint_sequence) {
  absl::StatusOr<std::vector<int64_t>> segments = ListSegments(options_.dir);
  if (!segments.ok()) return segments.status();
  const int64_t current = segment_sequence();
  for (int64_t sequence : *segments) {
    if (sequence >= checkpoint_sequence || sequence >= current) break;
    absl::Status status =
        RemoveAll(JoinPath(options_.dir, WalSegmentName(sequence)));
    if (!status.ok()) return status;
  }
  return SyncDirectory(options_.dir);
}

absl::Status WriteAheadLog::Close() {
  flusher_.reset();  // Joins the thread, which may be in Sync.
  MutexLock lock(&mu_);
  // Waits for a running fsync; later ones find the log closed.
  mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !syncing_; });
  if (file_ == nullptr) return absl::OkStatus();
  absl::Status status = broken_;
  if (status.ok()) status = file_->Sync();
  absl::Status closed = file_->Close();
  file_.reset();
  if (status.ok()) status = closed;
  if (status.ok()) synced_ = appended_;
  return status;
}

int64_t WriteAheadLog::segment_sequence() const {
  MutexLock lock(&mu_);
  return segment_sequence_;
}

WriteAheadLog::Stats WriteAheadLog::stats() const {
  MutexLock lock(&mu_);
  return {records_, appended_, sync_count_};
}

absl::Status WriteAheadLog::TimedSync(WritableFile& file) {
  const absl::Time began = absl::Now();
  absl::Status status = file.Sync();
  sync_seconds_.Observe(absl::ToDoubleSeconds(absl::Now() - began));
  return status;
}

int64_t WriteAheadLog::sync_count() const {
  MutexLock lock(&mu_);
  return sync_count_;
}

uint64_t WriteAheadLog::synced_position() const {
  MutexLock lock(&mu_);
  return synced_;
}

}  // namespace paramserver
