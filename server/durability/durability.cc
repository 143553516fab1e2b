#include "server/durability/durability.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/durability/checkpoint.h"
#include "server/durability/env.h"
#include "server/logging.h"

namespace paramserver {
namespace {

std::string CheckpointRoot(const DurabilityOptions& o) {
  return JoinPath(o.data_dir, "checkpoints");
}
std::string LogDir(const DurabilityOptions& o) {
  return JoinPath(o.data_dir, "wal");
}

absl::StatusOr<std::shared_ptr<TensorBuffer>> CopyToBuffer(
    absl::string_view bytes) {
  absl::StatusOr<std::shared_ptr<TensorBuffer>> buffer =
      TensorBuffer::Allocate(bytes.size());
  if (buffer.ok() && !bytes.empty())
    std::memcpy((*buffer)->data(), bytes.data(), bytes.size());
  return buffer;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Durability>> Durability::Open(
    const DurabilityOptions& options, const StoreOptions& store_options,
    std::unique_ptr<VariableStore>* store) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("Durability needs a data directory.");
  }
  if (absl::Status s = CreateDirectories(CheckpointRoot(options)); !s.ok())
    return s;
  // A checkpoint that failed (a full disk, a crash) left its temporary.
  if (absl::Status s = RemoveCheckpointTemporaries(CheckpointRoot(options));
      !s.ok()) {
    return s;
  }
  std::unique_ptr<Durability> durability(new Durability(options));
  // Restoring does not log (Install, Replay*); the log opens after it.
  absl::StatusOr<std::unique_ptr<VariableStore>> restored =
      VariableStore::Create(store_options, durability.get());
  if (!restored.ok()) return restored.status();
  durability->store_ = restored->get();
  absl::StatusOr<int64_t> sequence = durability->RestoreCheckpoint();
  if (!sequence.ok()) return sequence.status();
  if (absl::Status s = durability->ReplayLog(*sequence); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> log =
      WriteAheadLog::Open({LogDir(options), options.fsync_policy}, *sequence);
  if (!log.ok()) return log.status();
  durability->log_ = *std::move(log);
  // Replayed tables evict only now that their evictions can be logged.
  (*restored)->StartTableSweepers();
  absl::StatusOr<std::vector<int64_t>> checkpoints =
      ListCheckpoints(CheckpointRoot(options));
  int64_t last = std::max(*sequence, durability->log_->segment_sequence());
  if (checkpoints.ok() && !checkpoints->empty())
    last = std::max(last, checkpoints->back());
  {
    MutexLock lock(&durability->checkpoint_mu_);
    durability->last_sequence_ = last;
  }
  Log(LogLevel::kInfo, "Restored ", (*restored)->num_variables(),
      " variables from ", options.data_dir);
  *store = *std::move(restored);
  return durability;
}

Durability::~Durability() { (void)Close(); }

absl::StatusOr<int64_t> Durability::RestoreCheckpoint() {
  absl::StatusOr<LoadedCheckpoint> loaded =
      ReadLatestCheckpoint(CheckpointRoot(options_));
  if (absl::IsNotFound(loaded.status())) return 0;
  if (absl::IsDataLoss(loaded.status()) &&
      options_.ignore_corrupt_checkpoints) {
    Log(LogLevel::kError,
        "Every checkpoint is damaged; salvaging what the log "
        "holds (--ignore_corrupt_checkpoints): ",
        loaded.status().message());
    salvage_ = true;
    return 0;
  }
  if (absl::IsDataLoss(loaded.status())) {
    return absl::DataLossError(absl::StrCat(
        loaded.status().message(),
        "; start with --ignore_corrupt_checkpoints to start from what the log "
        "holds (variables not changed since the oldest checkpoint are lost)"));
  }
  if (!loaded.ok()) return loaded.status();
  for (const std::string& reason : loaded->rejected) {
    Log(LogLevel::kWarning, "Skipped damaged checkpoint: ", reason);
  }
  for (RestoredVariable& variable : loaded->variables) {
    if (absl::Status s = store_->Install(variable.info, variable.is_slot,
                                         std::move(variable.value));
        !s.ok()) {
      return s;
    }
  }
  Log(LogLevel::kInfo, "Loaded checkpoint ", loaded->path, " (",
      loaded->variables.size(), " variables)");
  return loaded->sequence;
}

absl::Status Durability::ApplyRecord(const WalRecord& record) {
  switch (record.type) {
    case WalRecordType::kCheckpoint:
      return absl::OkStatus();
    case WalRecordType::kCreateVariable: {
      absl::StatusOr<std::shared_ptr<TensorBuffer>> value =
          CopyToBuffer(record.value);
      if (!value.ok()) return value.status();
      return store_->Install(record.info, record.is_slot, *std::move(value));
    }
    case WalRecordType::kDeleteVariable:
      store_->ReplayDelete(record.info.name);
      return absl::OkStatus();
    case WalRecordType::kPush:
    case WalRecordType::kPushWithId:
      // Salvage drops values, so the answer may not hold: no id then.
      return salvage_ ? ApplySalvagedPush(record.values)
                      : store_->ReplayPush(record.values, record.push_id);
    case WalRecordType::kPushRows:
    case WalRecordType::kPushRowsWithId:
      // Salvage drops values, so the answer may not hold: no id then.
      return salvage_ ? ApplySalvagedRows(record.row_ids, record.values)
                      : store_->ReplayRows(record.row_ids, record.values,
                                           record.push_id);
    case WalRecordType::kPushIds:
      store_->ReplayPushIds(record.remembered);
      return absl::OkStatus();
    case WalRecordType::kCreateTable:
      return store_->ReplayCreateTable(record.info.name, record.table_spec);
    case WalRecordType::kTableChange:
      return store_->ReplayTableChange(record.info.name,
                                       record.table_change.View());
  }
  return absl::DataLossError("Unknown log record type.");
}

absl::Status Durability::ApplySalvagedPush(absl::Span<const LoggedValue> push) {
  std::vector<LoggedValue> present;
  for (const LoggedValue& value : push) {
    absl::StatusOr<VariableSnapshot> current = store_->ReadVariable(value.name);
    if (current.ok() && current->value->size() == value.value.size()) {
      present.push_back(value);
    } else {
      lost_.insert(std::string(value.name));
    }
  }
  return present.empty() ? absl::OkStatus() : store_->ReplayPush(present);
}

absl::Status Durability::ApplySalvagedRows(absl::Span<const int64_t> ids,
                                           absl::Span<const LoggedValue> push) {
  std::vector<LoggedValue> present;
  for (const LoggedValue& value : push) {
    if (store_->CheckReplayRows(ids, value).ok()) {
      present.push_back(value);
    } else {
      lost_.insert(std::string(value.name));
    }
  }
  return present.empty() ? absl::OkStatus() : store_->ReplayRows(ids, present);
}

absl::Status Durability::ReplayLog(int64_t from_sequence) {
  ReplayOptions replay_options;
  replay_options.skip_corruption = options_.skip_wal_corruption;
  absl::StatusOr<ReplayReport> report = ReplayWriteAheadLog(
      LogDir(options_), from_sequence,
      [this](const WalRecord& record) { return ApplyRecord(record); },
      replay_options);
  if (absl::IsDataLoss(report.status())) {
    return absl::DataLossError(absl::StrCat(
        report.status().message(),
        "; start with --skip_wal_corruption to replay up to that record and "
        "set the rest of the log aside (kept as wal-N.log.corrupt-OFFSET)"));
  }
  if (!report.ok()) return report.status();
  if (!report->trimmed.empty())
    Log(LogLevel::kWarning, "Write-ahead log: ", report->trimmed);
  if (!report->skipped_corruption.empty()) {
    Log(LogLevel::kError,
        "Write-ahead log corruption skipped (--skip_wal_corruption): ",
        report->skipped_corruption);
  }
  if (!lost_.empty()) {
    Log(LogLevel::kError, lost_.size(),
        " variables were only in the damaged "
        "checkpoints and are lost, among them ",
        *lost_.begin());
  }
  Log(LogLevel::kInfo, "Replayed ", report->records, " log records from ",
      report->segments.size(), " segments");
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Durability::Checkpoint() {
  MutexLock lock(&checkpoint_mu_);
  const absl::Time began = absl::Now();
  uint64_t value_bytes = 0;
  absl::StatusOr<int64_t> written = WriteNextCheckpoint(&value_bytes);
  const absl::Time ended = absl::Now();
  MutexLock stats_lock(&stats_mu_);
  if (!written.ok()) {
    ++checkpoint_stats_.failed;
    return written;
  }
  ++checkpoint_stats_.written;
  checkpoint_stats_.last_seconds = absl::ToDoubleSeconds(ended - began);
  checkpoint_stats_.last_value_bytes = value_bytes;
  checkpoint_stats_.last_time = ended;
  return written;
}

Durability::CheckpointStats Durability::checkpoint_stats() const {
  MutexLock lock(&stats_mu_);
  return checkpoint_stats_;
}

absl::StatusOr<int64_t> Durability::WriteNextCheckpoint(uint64_t* value_bytes) {
  const int64_t sequence = last_sequence_ + 1;
  // Changes from here on go to the new segment. The checkpoint holds the
  // variables registered at the switch (`members`, taken with it): those
  // deleted later too, since the segment's records before their deletion
  // need them. Their values, read below, may contain some of the segment's
  // changes too, which replay re-applies harmlessly (records carry
  // resulting values, not deltas).
  // Dynamic tables live in the log alone: each one's creation opens the
  // new segment, and its rows follow (LogTables).
  std::vector<std::shared_ptr<Variable>> members;
  if (absl::Status s = store_->StartSegmentWithTables(
          [&] { return log_->StartSegment(sequence); }, &members);
      !s.ok()) {
    return s;
  }
  if (options_.after_segment_start_for_testing) {
    options_.after_segment_start_for_testing();
  }
  last_sequence_ = sequence;
  // The push ids remembered so far (every one logged in older segments,
  // which the checkpoint lets go) go first into the new segment, fsynced
  // before any older segment is removed.
  if (absl::Status s = store_->LogPushIds(); !s.ok()) return s;
  if (absl::Status s = store_->LogTables(); !s.ok()) return s;
  if (absl::Status s = log_->Sync(); !s.ok()) return s;
  std::vector<CheckpointEntry> entries;
  for (VariableStore::SnapshotEntry& entry :
       VariableStore::SnapshotOf(members)) {
    if (entry.snapshot.value != nullptr) {
      *value_bytes += entry.snapshot.value->size();
    }
    entries.push_back({std::move(entry.snapshot.info), entry.is_slot,
                       std::move(entry.snapshot.value)});
  }
  const std::string root = CheckpointRoot(options_);
  if (absl::Status s = WriteCheckpoint(root, sequence, entries); !s.ok())
    return s;
  absl::StatusOr<std::vector<int64_t>> kept =
      PruneCheckpoints(root, options_.checkpoints_to_keep);
  if (!kept.ok()) return kept.status();
  if (!kept->empty()) {
    if (absl::Status s = log_->RemoveSegmentsBefore(kept->front()); !s.ok())
      return s;
  }
  Log(LogLevel::kInfo, "Wrote checkpoint ", sequence, " (", entries.size(),
      " variables)");
  return sequence;
}

absl::Status Durability::Close() {
  return log_ == nullptr ? absl::OkStatus() : log_->Close();
}

absl::StatusOr<LogPosition> Durability::AppendCreate(const VariableInfo& info,
                                                     bool is_slot,
                                                     absl::string_view value) {
  return log_->AppendCreate(info, is_slot, value);
}

absl::StatusOr<LogPosition> Durability::AppendDelete(absl::string_view name) {
  return log_->AppendDelete(name);
}

absl::StatusOr<LogPosition> Durability::AppendPush(
    absl::Span<const LoggedValue> values, ChangeSource source,
    const LoggedPushId& push_id) {
  return log_->AppendPush(values, source, push_id);
}

absl::StatusOr<LogPosition> Durability::AppendCreateTable(
    absl::string_view name, const TableSpec& spec) {
  return log_->AppendCreateTable(name, spec);
}

absl::StatusOr<LogPosition> Durability::AppendTableChange(
    absl::string_view name, int64_t entry_floats, const TableChange& change,
    ChangeSource source) {
  return log_->AppendTableChange(name, entry_floats, change, source);
}

absl::StatusOr<LogPosition> Durability::AppendRows(const LoggedRows& rows,
                                                   ChangeSource source) {
  return log_->AppendRows(rows, source);
}

absl::StatusOr<LogPosition> Durability::AppendPushIds(
    absl::Span<const RememberedPush> remembered) {
  return log_->AppendPushIds(remembered);
}

absl::Status Durability::Commit(LogPosition position) {
  return log_->Commit(position);
}

}  // namespace paramserver
