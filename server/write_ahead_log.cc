#include "server/write_ahead_log.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "server/crc32c.h"
#include "common/dtype.h"
#include "common/tensor_shape.h"

namespace paramserver {
namespace {

// u64 payload length, u32 payload CRC, u8 type, u32 CRC of those 13 bytes.
constexpr size_t kHeaderSize = 17;
constexpr size_t kHeaderCrcOffset = 13;
constexpr size_t kTypeOffset = 12;
// Far above any push the memory limits allow; a length past it is damage.
constexpr uint64_t kMaxPayload = uint64_t{1} << 40;
constexpr absl::string_view kSegmentPrefix = "wal-";
constexpr absl::string_view kSegmentSuffix = ".log";
constexpr int kSequenceDigits = 20;
constexpr uint8_t kFlagTrainable = 1;
constexpr uint8_t kFlagSlot = 2;

uint64_t DecodeFixed64(const char* p) {
  return DecodeFixed32(p) | (uint64_t{DecodeFixed32(p + 4)} << 32);
}

bool IsKnownType(uint8_t type) {
  return type >= static_cast<uint8_t>(WalRecordType::kCheckpoint) &&
         type <= static_cast<uint8_t>(WalRecordType::kPush);
}

uint32_t RecordCrc(char type, absl::Span<const absl::string_view> pieces) {
  uint32_t crc = Crc32cExtend(0, &type, 1);
  for (absl::string_view piece : pieces) {
    crc = Crc32cExtend(crc, piece.data(), piece.size());
  }
  return crc;
}

uint64_t TotalSize(absl::Span<const absl::string_view> pieces) {
  uint64_t size = 0;
  for (absl::string_view piece : pieces) size += piece.size();
  return size;
}

std::string EncodeHeader(WalRecordType type,
                         absl::Span<const absl::string_view> pieces) {
  const char type_byte = static_cast<char>(type);
  std::string header;
  PutFixed64(&header, TotalSize(pieces));
  PutFixed32(&header, RecordCrc(type_byte, pieces));
  header.push_back(type_byte);
  PutFixed32(&header, Crc32cExtend(0, header.data(), header.size()));
  return header;
}

// A record header whose own CRC verifies; its length and type are then as
// written, so a bad one is rejected in O(1) before any payload is read.
struct Header {
  uint64_t length;
  uint32_t payload_crc;
  uint8_t type;
};

std::optional<Header> DecodeHeader(absl::string_view data, uint64_t* checksummed) {
  if (data.size() < kHeaderSize) return std::nullopt;
  *checksummed += kHeaderCrcOffset;
  if (Crc32cExtend(0, data.data(), kHeaderCrcOffset) !=
      DecodeFixed32(data.data() + kHeaderCrcOffset)) {
    return std::nullopt;
  }
  return Header{DecodeFixed64(data.data()), DecodeFixed32(data.data() + 8),
                static_cast<uint8_t>(data[kTypeOffset])};
}

std::string EncodeCheckpointMeta(int64_t sequence) {
  std::string meta;
  PutFixed64(&meta, static_cast<uint64_t>(sequence));
  return meta;
}

// INVALID_ARGUMENT unless `value` is exactly a value of info's dtype/shape.
absl::Status CheckValue(const VariableInfo& info, absl::string_view value) {
  if (!IsValidDType(static_cast<int>(info.dtype))) {
    return absl::InvalidArgumentError(absl::StrCat("invalid dtype for ", info.name));
  }
  absl::StatusOr<int64_t> elements = NumElements(info.shape);
  if (!elements.ok()) return elements.status();
  // Divided, not multiplied: elements * size may wrap around 2^64 (a shape
  // of 2^62 floats would "need" 0 bytes).
  const size_t size = DTypeSize(info.dtype);
  if (value.size() % size != 0 ||
      value.size() / size != static_cast<uint64_t>(*elements)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value of ", value.size(), " bytes does not fit ", info.name, " ",
        DTypeName(info.dtype), ShapeToString(info.shape)));
  }
  return absl::OkStatus();
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

// ---- Decoding ----

absl::Status Malformed(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("malformed ", what, " record"));
}

absl::Status DecodeCreate(ByteReader* reader, WalRecord* record) {
  absl::string_view name;
  uint32_t dtype, rank;
  if (!reader->ReadLengthPrefixed(&name) || !reader->ReadFixed32(&dtype) ||
      !reader->ReadFixed32(&rank) || rank > kMaxRank) {
    return Malformed("create");
  }
  record->info.name = std::string(name);
  record->info.dtype = static_cast<DType>(dtype);
  for (uint32_t i = 0; i < rank; ++i) {
    uint64_t dim;
    if (!reader->ReadFixed64(&dim)) return Malformed("create");
    record->info.shape.push_back(static_cast<int64_t>(dim));
  }
  uint8_t flags;
  uint64_t version;
  if (!reader->ReadFixed8(&flags) || !reader->ReadFixed64(&version)) {
    return Malformed("create");
  }
  record->info.trainable = (flags & kFlagTrainable) != 0;
  record->is_slot = (flags & kFlagSlot) != 0;
  record->info.version = static_cast<int64_t>(version);
  // Versions start at 1; the store takes 0 for "still being created" and
  // would wait for such a variable forever.
  if (record->info.version < 1) return Malformed("create");
  reader->ReadBytes(reader->remaining(), &record->value);
  if (!CheckValue(record->info, record->value).ok()) return Malformed("create");
  return absl::OkStatus();
}

absl::Status DecodePush(ByteReader* reader, WalRecord* record) {
  uint32_t count;
  if (!reader->ReadFixed32(&count) || count == 0) return Malformed("push");
  for (uint32_t i = 0; i < count; ++i) {
    LoggedValue value;
    uint64_t version, size;
    if (!reader->ReadLengthPrefixed(&value.name) ||
        !reader->ReadFixed64(&version) || !reader->ReadFixed64(&size) ||
        size > reader->remaining() || !reader->ReadBytes(size, &value.value)) {
      return Malformed("push");
    }
    value.version = static_cast<int64_t>(version);
    if (value.version < 1) return Malformed("push");  // As in DecodeCreate.
    record->values.push_back(value);
  }
  if (reader->remaining() != 0) return Malformed("push");
  return absl::OkStatus();
}

absl::Status DecodePayload(WalRecordType type, absl::string_view payload,
                           WalRecord* record) {
  ByteReader reader(payload);
  record->type = type;
  absl::string_view name;
  uint64_t number;
  switch (type) {
    case WalRecordType::kCheckpoint:
      if (!reader.ReadFixed64(&number) || reader.remaining() != 0) {
        return Malformed("checkpoint");
      }
      record->checkpoint_sequence = static_cast<int64_t>(number);
      return absl::OkStatus();
    case WalRecordType::kCreateVariable:
      return DecodeCreate(&reader, record);
    case WalRecordType::kDeleteVariable:
      if (!reader.ReadLengthPrefixed(&name) || reader.remaining() != 0) {
        return Malformed("delete");
      }
      record->info.name = std::string(name);
      return absl::OkStatus();
    case WalRecordType::kPush:
      return DecodePush(&reader, record);
  }
  return Malformed("unknown");
}

// Why a record could not be read, and what that says about the bytes after
// it.
struct BadRecord {
  enum Kind {
    // An incomplete header, or an intact one whose length runs past the end
    // of the file: the record was being written when the writer stopped,
    // and what follows is its own unfinished payload.
    kTruncated,
    // A header that fails its CRC: torn, or damaged; records may follow.
    kBadHeader,
    // An intact header, but the payload fails its CRC: torn (pages lost in
    // a power cut), or damaged; records may follow from `end` on.
    kBadPayload,
    // Bytes that verify but do not decode: written wrong, never torn.
    kBadContent,
    // A whole record the visitor refused with DATA_LOSS: it does not fit
    // the state before it (a checkpoint and log that do not belong
    // together). Records may follow from `end` on.
    kRejected,
  };
  uint64_t offset = 0;
  std::string reason;
  Kind kind = kTruncated;
  uint64_t end = 0;  // kBadPayload, kRejected: where the next record starts.
};

// Decodes the record at the start of `data` into *record and returns its
// size, or fills *bad (offsets relative to `data`, which the caller moves).
// Lengths are checked before any CRC over the payload, so a damaged or torn
// record costs O(header) to reject; *checksummed counts the bytes CRCed.
std::optional<size_t> DecodeRecord(absl::string_view data, WalRecord* record,
                                   BadRecord* bad, uint64_t* checksummed) {
  if (data.size() < kHeaderSize) {
    *bad = {0, absl::StrCat("incomplete header (", data.size(), " bytes)"),
            BadRecord::kTruncated};
    return std::nullopt;
  }
  const std::optional<Header> header = DecodeHeader(data, checksummed);
  if (!header.has_value()) {
    *bad = {0, "header CRC mismatch", BadRecord::kBadHeader};
    return std::nullopt;
  }
  if (header->length > data.size() - kHeaderSize) {
    *bad = {0, absl::StrCat("length ", header->length, " runs past the end (",
                            data.size() - kHeaderSize, " bytes left)"),
            BadRecord::kTruncated};
    return std::nullopt;
  }
  const absl::string_view payload = data.substr(kHeaderSize, header->length);
  *checksummed += payload.size();
  if (RecordCrc(static_cast<char>(header->type), {payload}) != header->payload_crc) {
    *bad = {0, "payload CRC mismatch", BadRecord::kBadPayload,
            kHeaderSize + header->length};
    return std::nullopt;
  }
  absl::Status status =
      IsKnownType(header->type)
          ? DecodePayload(static_cast<WalRecordType>(header->type), payload, record)
          : absl::DataLossError(absl::StrCat("unknown record type ", header->type));
  if (!status.ok()) {
    *bad = {0, std::string(status.message()), BadRecord::kBadContent};
    return std::nullopt;
  }
  return kHeaderSize + header->length;
}

// The offset of the first whole, verified record at or after `from`, or
// npos. Each position costs a type check, then at most a 13-byte header
// CRC; only a header that verifies (random bytes: 1 in 2^32) and fits in the
// file leads to a CRC over its payload. So a torn tail of n bytes is
// searched in O(n), never O(n^2) as when every position's claimed length
// was CRCed.
size_t FindNextValidRecord(absl::string_view data, size_t from,
                           uint64_t* checksummed) {
  for (size_t pos = from; pos + kHeaderSize <= data.size(); ++pos) {
    if (!IsKnownType(static_cast<uint8_t>(data[pos + kTypeOffset]))) continue;
    const std::optional<Header> header = DecodeHeader(data.substr(pos), checksummed);
    if (!header.has_value() ||
        header->length > data.size() - pos - kHeaderSize) {
      continue;
    }
    const absl::string_view payload = data.substr(pos + kHeaderSize, header->length);
    *checksummed += payload.size();
    if (RecordCrc(static_cast<char>(header->type), {payload}) == header->payload_crc) {
      return pos;
    }
  }
  return absl::string_view::npos;
}

// ---- Segments ----

// The sequence of "wal-<20 digits>.log", or -1.
int64_t ParseSegmentName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kSegmentPrefix) ||
      !absl::ConsumeSuffix(&name, kSegmentSuffix) ||
      name.size() != kSequenceDigits) {
    return -1;
  }
  int64_t sequence;
  if (!absl::SimpleAtoi(name, &sequence) || sequence < 0) return -1;
  return sequence;
}

absl::StatusOr<std::vector<int64_t>> ListSegments(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(dir);
  if (absl::IsNotFound(names.status())) return std::vector<int64_t>();
  if (!names.ok()) return names.status();
  std::vector<int64_t> sequences;
  for (const std::string& name : *names) {
    const int64_t sequence = ParseSegmentName(name);
    if (sequence >= 0) sequences.push_back(sequence);
  }
  std::sort(sequences.begin(), sequences.end());
  return sequences;
}

}  // namespace

std::string WalSegmentName(int64_t checkpoint_sequence) {
  return absl::StrFormat("%s%0*d%s", kSegmentPrefix, kSequenceDigits,
                         checkpoint_sequence, kSegmentSuffix);
}

absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(absl::string_view name) {
  if (name == "always") return FsyncPolicy::kAlways;
  if (name == "everysec") return FsyncPolicy::kEverySecond;
  if (name == "checkpoint") return FsyncPolicy::kCheckpointOnly;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown fsync policy \"", name, "\"; expected always, everysec or checkpoint"));
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
  bool stop_ = false;  // Guarded by mu_.
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
  const bool reuse = !segments->empty() && segments->back() >= checkpoint_sequence;
  const int64_t sequence = reuse ? segments->back() : checkpoint_sequence;
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      reuse ? WritableFile::Open(JoinPath(options.dir, WalSegmentName(sequence)),
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
    log->flusher_ = std::make_unique<Flusher>(log.get(), options.flush_interval);
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
    absl::Span<const LoggedValue> values, ChangeSource source) {
  if (values.empty()) return absl::InvalidArgumentError("empty push");
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
  return Append(WalRecordType::kPush, pieces);
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
      broken_ = absl::Status(undo.code(), absl::StrCat(
          "write-ahead log is broken: ", undo.message(), " after ",
          status.message()));
    }
    return status;
  }
  appended_ += header.size() + payload;
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
  return EndSync(upto, file->Sync());  // Appends continue meanwhile.
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
    broken_ = absl::Status(status.code(), absl::StrCat(
        "write-ahead log is broken: ", status.message()));
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
    return EndSync(0, absl::InvalidArgumentError(absl::StrCat(
        "checkpoint sequence ", checkpoint_sequence,
        " is not above the current segment's ", current)), /*breaks=*/false);
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
  absl::Status status = old->Sync();
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

int64_t WriteAheadLog::sync_count() const {
  MutexLock lock(&mu_);
  return sync_count_;
}

uint64_t WriteAheadLog::synced_position() const {
  MutexLock lock(&mu_);
  return synced_;
}

// ---- Replay ----

namespace {

using Visitor = std::function<absl::Status(const WalRecord&)>;

// Hands the records of one segment to `visitor`. Returns the visitor's
// error; sets *bad, and stops, at the first record that cannot be read.
absl::Status ReplaySegment(absl::string_view data, const std::string& path,
                           int64_t sequence, const Visitor& visitor,
                           ReplayReport* report, std::optional<BadRecord>* bad) {
  if (data.empty()) {
    *bad = BadRecord{0, "empty segment", BadRecord::kTruncated};
    return absl::OkStatus();
  }
  for (uint64_t offset = 0; offset < data.size();) {
    WalRecord record;
    BadRecord problem;
    std::optional<size_t> size = DecodeRecord(data.substr(offset), &record,
                                              &problem, &report->bytes_checksummed);
    if (size.has_value() && offset == 0 &&
        (record.type != WalRecordType::kCheckpoint ||
         record.checkpoint_sequence != sequence)) {
      problem = BadRecord{0, "segment does not start with its checkpoint record",
                          BadRecord::kBadContent};
      size.reset();
    }
    if (!size.has_value()) {
      problem.offset = offset;
      problem.end += offset;
      *bad = std::move(problem);
      return absl::OkStatus();
    }
    absl::Status status = visitor(record);
    if (absl::IsDataLoss(status)) {
      *bad = BadRecord{offset, std::string(status.message()),
                       BadRecord::kRejected, offset + *size};
      return absl::OkStatus();
    }
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(path, ": record at byte ",
                                                      offset, ": ", status.message()));
    }
    ++report->records;
    offset += *size;
  }
  return absl::OkStatus();
}

absl::Status TrimSegment(const std::string& path, uint64_t offset) {
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      WritableFile::Open(path, WritableFile::Mode::kAppend);
  if (!file.ok()) return file.status();
  absl::Status status = (*file)->Truncate(offset);
  if (!status.ok()) return status;
  return (*file)->Close();
}

// Keeps the damaged bytes for inspection (wal-N.log.corrupt-<offset>), cuts
// the segment there and sets later segments aside (*.skipped).
absl::Status Quarantine(const std::string& dir,
                        const std::vector<int64_t>& segments, size_t index,
                        uint64_t offset, absl::string_view data) {
  const std::string name = WalSegmentName(segments[index]);
  absl::Status status = WriteFileAtomically(
      dir, absl::StrCat(name, ".corrupt-", offset), data.substr(offset));
  if (status.ok()) status = TrimSegment(JoinPath(dir, name), offset);
  for (size_t i = index + 1; status.ok() && i < segments.size(); ++i) {
    const std::string later = JoinPath(dir, WalSegmentName(segments[i]));
    status = RenamePath(later, later + ".skipped");
  }
  if (!status.ok()) return status;
  return SyncDirectory(dir);
}

absl::Status CorruptionError(absl::string_view message) {
  return absl::DataLossError(absl::StrCat(
      message, "; refusing to start from a log with a hole (replay with "
               "skip_corruption to set the log aside from that point on)"));
}

// Where whole records resume after `bad`, or npos: a torn tail has none.
size_t NextRecordAfter(absl::string_view data, const BadRecord& bad,
                       uint64_t* checksummed) {
  switch (bad.kind) {
    case BadRecord::kTruncated:
      return absl::string_view::npos;  // The rest is this record's.
    case BadRecord::kBadPayload:
    case BadRecord::kRejected:
      return FindNextValidRecord(data, bad.end, checksummed);
    case BadRecord::kBadHeader:
    case BadRecord::kBadContent:
      break;
  }
  return FindNextValidRecord(data, bad.offset + 1, checksummed);
}

// Handles damage at `bad` in segments[index]: trims a torn tail, else
// reports corruption (or skips it, per options). Fills *report.
absl::Status HandleBadRecord(const std::string& dir,
                             const std::vector<int64_t>& segments,
                             size_t index, std::unique_ptr<MappedFile> mapped,
                             const BadRecord& bad, const ReplayOptions& options,
                             ReplayReport* report) {
  const absl::string_view data = mapped->contents();
  const std::string path = JoinPath(dir, WalSegmentName(segments[index]));
  const bool last = index + 1 == segments.size();
  const size_t next = NextRecordAfter(data, bad, &report->bytes_checksummed);
  // A segment is created whole with its first record (CreateSegment), so
  // damage there is never a torn write: it is corruption, or a segment in
  // another format (an earlier version's), and trimming would lose it.
  const bool may_be_torn = bad.offset > 0 || data.empty();
  if (last && may_be_torn &&
      (bad.kind == BadRecord::kTruncated || bad.kind == BadRecord::kBadHeader ||
       bad.kind == BadRecord::kBadPayload) &&
      next == absl::string_view::npos) {
    report->trimmed = absl::StrCat(path, ": torn record at byte ", bad.offset,
                                   " (", data.size() - bad.offset, " bytes: ",
                                   bad.reason, ") trimmed");
    mapped.reset();  // Unmap before the file shrinks.
    return TrimSegment(path, bad.offset);
  }
  std::string message =
      bad.kind == BadRecord::kRejected
          ? absl::StrCat(path, ": record at byte ", bad.offset,
                         " does not fit the state before it (", bad.reason, ")")
          : absl::StrCat(path, ": corrupt record at byte ", bad.offset, " (",
                         bad.reason, ")",
                         bad.offset == 0 ? " (a segment written by an earlier "
                                           "version of the server?)"
                                         : "");
  if (next != absl::string_view::npos) {
    absl::StrAppend(&message, ", valid records follow at byte ", next);
  } else if (!last) {
    absl::StrAppend(&message, ", ", segments.size() - index - 1,
                    " later segment(s) follow");
  }
  if (!options.skip_corruption) return CorruptionError(message);
  report->skipped_corruption = message;
  return Quarantine(dir, segments, index, bad.offset, data);
}

// The segments at or after `from`, ascending.
absl::StatusOr<std::vector<int64_t>> SegmentsFrom(const std::string& dir,
                                                  int64_t from) {
  absl::StatusOr<std::vector<int64_t>> all = ListSegments(dir);
  if (!all.ok()) return all.status();
  std::vector<int64_t> selected;
  for (int64_t sequence : *all) {
    if (sequence >= from) selected.push_back(sequence);
  }
  return selected;
}

}  // namespace

absl::StatusOr<ReplayReport> ReplayWriteAheadLog(
    const std::string& dir, int64_t from_checkpoint_sequence,
    const Visitor& visitor, const ReplayOptions& options) {
  absl::StatusOr<std::vector<int64_t>> segments =
      SegmentsFrom(dir, from_checkpoint_sequence);
  if (!segments.ok()) return segments.status();
  ReplayReport report;
  if (from_checkpoint_sequence > 0 && !segments->empty() &&
      segments->front() != from_checkpoint_sequence) {
    const std::string message = absl::StrCat(
        JoinPath(dir, WalSegmentName(from_checkpoint_sequence)),
        " is missing but later segments exist");
    if (!options.skip_corruption) return CorruptionError(message);
    report.skipped_corruption = message;
    for (int64_t sequence : *segments) {
      const std::string path = JoinPath(dir, WalSegmentName(sequence));
      absl::Status status = RenamePath(path, path + ".skipped");
      if (!status.ok()) return status;
    }
    return report;
  }
  for (size_t i = 0; i < segments->size(); ++i) {
    const std::string path = JoinPath(dir, WalSegmentName((*segments)[i]));
    absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
    if (!mapped.ok()) return mapped.status();
    report.segments.push_back(path);
    std::optional<BadRecord> bad;
    absl::Status status = ReplaySegment((*mapped)->contents(), path,
                                        (*segments)[i], visitor, &report, &bad);
    if (!status.ok()) return status;
    if (bad.has_value()) {
      status = HandleBadRecord(dir, *segments, i, *std::move(mapped), *bad,
                               options, &report);
      if (!status.ok()) return status;
      break;
    }
  }
  return report;
}

}  // namespace paramserver
