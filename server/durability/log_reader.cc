#include "server/durability/log_reader.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/tensor_shape.h"
#include "server/durability/coding.h"
#include "server/durability/env.h"

namespace paramserver {
namespace {

using wal::CheckValue;
using wal::DecodeHeader;
using wal::Header;
using wal::IsKnownType;
using wal::kFlagSlot;
using wal::kFlagTrainable;
using wal::kHeaderSize;
using wal::kTypeOffset;
using wal::ListSegments;
using wal::RecordCrc;

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

// The id and answer indices that start kPushWithId and kPushRowsWithId.
absl::Status DecodePushId(ByteReader* reader, WalRecord* record) {
  uint32_t count;
  if (!reader->ReadLengthPrefixed(&record->push_id.id) ||
      record->push_id.id.empty() || !reader->ReadFixed32(&count) ||
      count > reader->remaining() / 4) {
    return Malformed("push with id");
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t index;
    if (!reader->ReadFixed32(&index)) return Malformed("push with id");
    record->push_id.answer.push_back(index);
  }
  return absl::OkStatus();
}

absl::Status DecodePushWithId(ByteReader* reader, WalRecord* record) {
  if (absl::Status s = DecodePushId(reader, record); !s.ok()) return s;
  if (absl::Status s = DecodePush(reader, record); !s.ok()) return s;
  for (uint32_t index : record->push_id.answer) {
    if (index >= record->values.size()) return Malformed("push with id");
  }
  return absl::OkStatus();
}

absl::Status DecodePushRows(ByteReader* reader, WalRecord* record) {
  uint64_t count;
  if (!reader->ReadFixed64(&count) || count == 0 ||
      count > reader->remaining() / 8) {
    return Malformed("row push");
  }
  record->row_ids.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t id;
    if (!reader->ReadFixed64(&id)) return Malformed("row push");
    record->row_ids.push_back(static_cast<int64_t>(id));
  }
  if (absl::Status s = DecodePush(reader, record); !s.ok()) return s;
  for (const LoggedValue& value : record->values) {
    if (value.value.size() % count != 0) return Malformed("row push");
  }
  return absl::OkStatus();
}

absl::Status DecodePushRowsWithId(ByteReader* reader, WalRecord* record) {
  if (absl::Status s = DecodePushId(reader, record); !s.ok()) return s;
  if (absl::Status s = DecodePushRows(reader, record); !s.ok()) return s;
  if (record->push_id.answer.size() != 1 ||
      record->push_id.answer[0] >= record->values.size()) {
    return Malformed("row push with id");
  }
  return absl::OkStatus();
}

absl::Status DecodePushIds(ByteReader* reader, WalRecord* record) {
  uint32_t count;
  if (!reader->ReadFixed32(&count)) return Malformed("push ids");
  for (uint32_t i = 0; i < count; ++i) {
    absl::string_view id;
    uint32_t n;
    if (!reader->ReadLengthPrefixed(&id) || !reader->ReadFixed32(&n) ||
        n > reader->remaining()) {
      return Malformed("push ids");
    }
    RememberedPush push{std::string(id), {}};
    for (uint32_t j = 0; j < n; ++j) {
      absl::string_view name;
      uint32_t dtype, rank;
      if (!reader->ReadLengthPrefixed(&name) || !reader->ReadFixed32(&dtype) ||
          !reader->ReadFixed32(&rank) || rank > kMaxRank) {
        return Malformed("push ids");
      }
      VariableInfo info;
      info.name = std::string(name);
      info.dtype = static_cast<DType>(dtype);
      for (uint32_t k = 0; k < rank; ++k) {
        uint64_t dim;
        if (!reader->ReadFixed64(&dim)) return Malformed("push ids");
        info.shape.push_back(static_cast<int64_t>(dim));
      }
      uint8_t flags;
      uint64_t version;
      if (!reader->ReadFixed8(&flags) || !reader->ReadFixed64(&version)) {
        return Malformed("push ids");
      }
      info.trainable = (flags & kFlagTrainable) != 0;
      info.version = static_cast<int64_t>(version);
      push.answer.push_back(std::move(info));
    }
    record->remembered.push_back(std::move(push));
  }
  if (reader->remaining() != 0) return Malformed("push ids");
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
    case WalRecordType::kPushWithId:
      return DecodePushWithId(&reader, record);
    case WalRecordType::kPushIds:
      return DecodePushIds(&reader, record);
    case WalRecordType::kPushRows:
      return DecodePushRows(&reader, record);
    case WalRecordType::kPushRowsWithId:
      return DecodePushRowsWithId(&reader, record);
    case WalRecordType::kCreateTable:
      if (!reader.ReadLengthPrefixed(&name) || name.empty()) {
        return Malformed("table creation");
      }
      record->info.name = std::string(name);
      if (!DecodeTableSpec(&reader, &record->table_spec).ok() ||
          reader.remaining() != 0) {
        return Malformed("table creation");
      }
      return absl::OkStatus();
    case WalRecordType::kTableChange:
      if (!reader.ReadLengthPrefixed(&name) || name.empty()) {
        return Malformed("table change");
      }
      record->info.name = std::string(name);
      if (!DecodeTableChange(&reader, &record->table_change).ok() ||
          reader.remaining() != 0) {
        return Malformed("table change");
      }
      return absl::OkStatus();
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
    *bad = {0,
            absl::StrCat("length ", header->length, " runs past the end (",
                         data.size() - kHeaderSize, " bytes left)"),
            BadRecord::kTruncated};
    return std::nullopt;
  }
  const absl::string_view payload = data.substr(kHeaderSize, header->length);
  *checksummed += payload.size();
  if (RecordCrc(static_cast<char>(header->type), {payload}) !=
      header->payload_crc) {
    *bad = {0, "payload CRC mismatch", BadRecord::kBadPayload,
            kHeaderSize + header->length};
    return std::nullopt;
  }
  absl::Status status =
      IsKnownType(header->type)
          ? DecodePayload(static_cast<WalRecordType>(header->type), payload,
                          record)
          : absl::DataLossError(
                absl::StrCat("unknown record type ", header->type));
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
    const std::optional<Header> header =
        DecodeHeader(data.substr(pos), checksummed);
    if (!header.has_value() ||
        header->length > data.size() - pos - kHeaderSize) {
      continue;
    }
    const absl::string_view payload =
        data.substr(pos + kHeaderSize, header->length);
    *checksummed += payload.size();
    if (RecordCrc(static_cast<char>(header->type), {payload}) ==
        header->payload_crc) {
      return pos;
    }
  }
  return absl::string_view::npos;
}

}  // namespace

// ---- Replay ----

namespace {

using Visitor = std::function<absl::Status(const WalRecord&)>;

// Hands the records of one segment to `visitor`. Returns the visitor's
// error; sets *bad, and stops, at the first record that cannot be read.
absl::Status ReplaySegment(absl::string_view data, const std::string& path,
                           int64_t sequence, const Visitor& visitor,
                           ReplayReport* report,
                           std::optional<BadRecord>* bad) {
  if (data.empty()) {
    *bad = BadRecord{0, "empty segment", BadRecord::kTruncated};
    return absl::OkStatus();
  }
  for (uint64_t offset = 0; offset < data.size();) {
    WalRecord record;
    BadRecord problem;
    std::optional<size_t> size = DecodeRecord(
        data.substr(offset), &record, &problem, &report->bytes_checksummed);
    if (size.has_value() && offset == 0 &&
        (record.type != WalRecordType::kCheckpoint ||
         record.checkpoint_sequence != sequence)) {
      problem =
          BadRecord{0, "segment does not start with its checkpoint record",
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
      return absl::Status(status.code(),
                          absl::StrCat(path, ": record at byte ", offset, ": ",
                                       status.message()));
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
  return absl::DataLossError(
      absl::StrCat(message,
                   "; refusing to start from a log with a hole (replay with "
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
                             const std::vector<int64_t>& segments, size_t index,
                             std::unique_ptr<MappedFile> mapped,
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
                                   " (", data.size() - bad.offset,
                                   " bytes: ", bad.reason, ") trimmed");
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
    const std::string message =
        absl::StrCat(JoinPath(dir, WalSegmentName(from_checkpoint_sequence)),
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
