#include "server/durability/checkpoint.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/dtype.h"
#include "common/tensor_shape.h"
#include "server/durability/coding.h"
#include "server/durability/crc32c.h"
#include "server/durability/env.h"

namespace paramserver {
namespace {

constexpr absl::string_view kMagic("PSCKPT\r\n", 8);
constexpr uint32_t kFormatVersion = 1;
constexpr uint8_t kFlagTrainable = 1;
constexpr uint8_t kFlagSlot = 2;
constexpr absl::string_view kPrefix = "ckpt-";
constexpr absl::string_view kTmpSuffix = ".tmp";
constexpr int kSequenceDigits = 20;
constexpr char kDataFile[] = "data";
constexpr char kIndexFile[] = "index";

// Where one value lives in the data file.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t crc = 0;
};

// One entry of the index as read back.
struct IndexRecord {
  VariableInfo info;
  bool is_slot = false;
  Extent extent;
};

struct ParsedIndex {
  int64_t sequence = 0;
  uint64_t data_size = 0;
  std::vector<IndexRecord> records;
};

uint64_t AlignUp(uint64_t n) {
  const uint64_t a = TensorBuffer::kAlignment;
  return (n + a - 1) / a * a;
}

// INVALID_ARGUMENT unless `length` bytes is exactly a value of dtype/shape.
absl::Status CheckValueSize(const VariableInfo& info, uint64_t length) {
  if (info.name.empty()) return absl::InvalidArgumentError("empty name");
  if (!IsValidDType(static_cast<int>(info.dtype))) {
    return absl::InvalidArgumentError(
        absl::StrCat("variable ", info.name, " has an invalid dtype ",
                     static_cast<int>(info.dtype)));
  }
  absl::StatusOr<uint64_t> needed = ValueByteSize(info.shape, info.dtype);
  if (!needed.ok() && !absl::IsOutOfRange(needed.status())) {
    return needed.status();
  }
  if (!needed.ok() || length != *needed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "variable ", info.name, " of dtype ", DTypeName(info.dtype), " shape ",
        ShapeToString(info.shape), " needs ",
        NumElements(info.shape).value_or(0), " elements of ",
        DTypeSize(info.dtype), " bytes, has ", length, " bytes"));
  }
  return absl::OkStatus();
}

// The entries sorted by name, after checking each; INVALID_ARGUMENT for a
// bad or repeated one.
absl::StatusOr<std::vector<const CheckpointEntry*>> SortedEntries(
    absl::Span<const CheckpointEntry> entries) {
  std::vector<const CheckpointEntry*> sorted;
  for (const CheckpointEntry& entry : entries) {
    if (entry.value == nullptr) {
      return absl::InvalidArgumentError("no value for " + entry.info.name);
    }
    absl::Status status = CheckValueSize(entry.info, entry.value->size());
    if (!status.ok()) return status;
    sorted.push_back(&entry);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return a->info.name < b->info.name;
  });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i]->info.name == sorted[i - 1]->info.name) {
      return absl::InvalidArgumentError("duplicate name " +
                                        sorted[i]->info.name);
    }
  }
  return sorted;
}

// Streams each value into `file` at the next 64-byte boundary.
absl::Status WriteData(WritableFile* file,
                       const std::vector<const CheckpointEntry*>& entries,
                       std::vector<Extent>* extents) {
  static const char kZeros[TensorBuffer::kAlignment] = {};
  for (const CheckpointEntry* entry : entries) {
    const uint64_t padding = AlignUp(file->size()) - file->size();
    const absl::string_view value(entry->value->data(), entry->value->size());
    Extent extent;
    extent.offset = file->size() + padding;
    extent.length = value.size();
    extent.crc = Crc32c(value);
    absl::Status status =
        file->AppendV({absl::string_view(kZeros, padding), value});
    if (!status.ok()) return status;
    extents->push_back(extent);
  }
  return absl::OkStatus();
}

void EncodeEntry(const CheckpointEntry& entry, const Extent& extent,
                 std::string* out) {
  PutLengthPrefixed(out, entry.info.name);
  PutFixed32(out, static_cast<uint32_t>(entry.info.dtype));
  PutFixed32(out, static_cast<uint32_t>(entry.info.shape.size()));
  for (int64_t dim : entry.info.shape)
    PutFixed64(out, static_cast<uint64_t>(dim));
  out->push_back(static_cast<char>((entry.info.trainable ? kFlagTrainable : 0) |
                                   (entry.is_slot ? kFlagSlot : 0)));
  PutFixed64(out, static_cast<uint64_t>(entry.info.version));
  PutFixed64(out, extent.offset);
  PutFixed64(out, extent.length);
  PutFixed32(out, extent.crc);
}

std::string EncodeIndex(int64_t sequence, uint64_t data_size,
                        const std::vector<const CheckpointEntry*>& entries,
                        const std::vector<Extent>& extents) {
  std::string out(kMagic);
  PutFixed32(&out, kFormatVersion);
  PutFixed64(&out, static_cast<uint64_t>(sequence));
  PutFixed64(&out, data_size);
  PutFixed64(&out, entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    EncodeEntry(*entries[i], extents[i], &out);
  }
  PutFixed32(&out, Crc32c(out));
  return out;
}

// Writes data then index into the (existing, empty) directory `dir`.
absl::Status WriteCheckpointFiles(
    const std::string& dir, int64_t sequence,
    const std::vector<const CheckpointEntry*>& entries) {
  std::vector<Extent> extents;
  uint64_t data_size = 0;
  absl::Status status =
      WriteFileAtomically(dir, kDataFile, [&](WritableFile* file) {
        absl::Status written = WriteData(file, entries, &extents);
        data_size = file->size();
        return written;
      });
  if (!status.ok()) return status;
  return WriteFileAtomically(
      dir, kIndexFile, EncodeIndex(sequence, data_size, entries, extents));
}

// The sequence of a directory name "ckpt-<20 digits>", or -1.
int64_t ParseDirName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kPrefix) || name.size() != kSequenceDigits) {
    return -1;
  }
  int64_t sequence;
  if (!absl::SimpleAtoi(name, &sequence) || sequence <= 0) return -1;
  return sequence;
}

absl::Status RemoveStaleTemporaries(const std::string& root) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(root);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    if (absl::StartsWith(name, kPrefix) && absl::EndsWith(name, kTmpSuffix)) {
      absl::Status status = RemoveAll(JoinPath(root, name));
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

// ---- Reading ----

absl::Status Corrupt(const std::string& path, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(path, ": ", what));
}

absl::StatusOr<IndexRecord> ParseRecord(ByteReader* reader) {
  IndexRecord record;
  absl::string_view name;
  uint32_t dtype, rank;
  if (!reader->ReadLengthPrefixed(&name) || !reader->ReadFixed32(&dtype) ||
      !reader->ReadFixed32(&rank) || rank > kMaxRank) {
    return absl::DataLossError("malformed entry header");
  }
  record.info.name = std::string(name);
  record.info.dtype = static_cast<DType>(dtype);
  for (uint32_t i = 0; i < rank; ++i) {
    uint64_t dim;
    if (!reader->ReadFixed64(&dim)) return absl::DataLossError("short shape");
    record.info.shape.push_back(static_cast<int64_t>(dim));
  }
  uint8_t flags;
  uint64_t version;
  if (!reader->ReadFixed8(&flags) || !reader->ReadFixed64(&version) ||
      !reader->ReadFixed64(&record.extent.offset) ||
      !reader->ReadFixed64(&record.extent.length) ||
      !reader->ReadFixed32(&record.extent.crc)) {
    return absl::DataLossError("short entry for " + record.info.name);
  }
  record.info.trainable = (flags & kFlagTrainable) != 0;
  record.is_slot = (flags & kFlagSlot) != 0;
  record.info.version = static_cast<int64_t>(version);
  return record;
}

// Checks what a record claims against the data file and its neighbours.
absl::Status CheckRecord(const IndexRecord& record, uint64_t data_size,
                         const IndexRecord* previous) {
  absl::Status status = CheckValueSize(record.info, record.extent.length);
  if (!status.ok()) return absl::DataLossError(status.message());
  // Versions start at 1; the store takes 0 for "still being created" and
  // would wait for such a variable forever.
  if (record.info.version < 1) {
    return absl::DataLossError(absl::StrCat(
        "variable ", record.info.name, " has version ", record.info.version));
  }
  if (previous != nullptr && previous->info.name >= record.info.name) {
    return absl::DataLossError("entries out of order at " + record.info.name);
  }
  const Extent& e = record.extent;
  if (e.offset % TensorBuffer::kAlignment != 0 || e.offset > data_size ||
      e.length > data_size - e.offset) {
    return absl::DataLossError(absl::StrCat(
        "variable ", record.info.name, " at [", e.offset, ", +", e.length,
        ") lies outside the ", data_size, "-byte data file"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedIndex> ParseIndexBody(ByteReader* reader) {
  ParsedIndex index;
  absl::string_view magic;
  uint32_t version;
  uint64_t sequence, count;
  if (!reader->ReadBytes(kMagic.size(), &magic) || magic != kMagic) {
    return absl::DataLossError("bad magic");
  }
  if (!reader->ReadFixed32(&version) || version != kFormatVersion) {
    return absl::DataLossError(
        absl::StrCat("unknown format version ", version));
  }
  if (!reader->ReadFixed64(&sequence) ||
      !reader->ReadFixed64(&index.data_size) || !reader->ReadFixed64(&count)) {
    return absl::DataLossError("short header");
  }
  index.sequence = static_cast<int64_t>(sequence);
  for (uint64_t i = 0; i < count; ++i) {
    absl::StatusOr<IndexRecord> record = ParseRecord(reader);
    if (!record.ok()) return record.status();
    absl::Status status = CheckRecord(*record, index.data_size,
                                      i == 0 ? nullptr : &index.records.back());
    if (!status.ok()) return status;
    index.records.push_back(*std::move(record));
  }
  if (reader->remaining() != 0) return absl::DataLossError("trailing bytes");
  return index;
}

absl::StatusOr<ParsedIndex> ReadIndex(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() < kMagic.size() + 4) {
    return Corrupt(path, absl::StrCat("truncated (", bytes->size(), " bytes)"));
  }
  const size_t body = bytes->size() - 4;
  const uint32_t stored = DecodeFixed32(bytes->data() + body);
  const uint32_t actual = Crc32c(absl::string_view(*bytes).substr(0, body));
  if (stored != actual) {
    return Corrupt(
        path,
        absl::StrFormat(
            "index CRC mismatch (stored %08x, computed %08x): truncated or "
            "corrupted",
            stored, actual));
  }
  ByteReader reader(absl::string_view(*bytes).substr(0, body));
  absl::StatusOr<ParsedIndex> index = ParseIndexBody(&reader);
  if (!index.ok()) return Corrupt(path, index.status().message());
  return index;
}

absl::StatusOr<RestoredVariable> ReadValue(const RandomAccessFile& data,
                                           IndexRecord record) {
  absl::StatusOr<std::shared_ptr<TensorBuffer>> buffer =
      TensorBuffer::Allocate(record.extent.length);
  if (!buffer.ok()) return buffer.status();
  absl::Status status = data.ReadAt(record.extent.offset, (*buffer)->span());
  if (!status.ok()) return status;
  const uint32_t crc = Crc32c({(*buffer)->data(), (*buffer)->size()});
  if (crc != record.extent.crc) {
    return Corrupt(
        data.path(),
        absl::StrFormat(
            "CRC mismatch for variable %s at offset %d (stored %08x, computed "
            "%08x)",
            record.info.name, record.extent.offset, record.extent.crc, crc));
  }
  return RestoredVariable{std::move(record.info), record.is_slot,
                          *std::move(buffer)};
}

absl::StatusOr<LoadedCheckpoint> LoadVerified(const std::string& dir,
                                              int64_t sequence) {
  absl::StatusOr<ParsedIndex> index = ReadIndex(JoinPath(dir, kIndexFile));
  if (!index.ok()) return index.status();
  if (index->sequence != sequence) {
    return Corrupt(dir,
                   absl::StrCat("index is of checkpoint ", index->sequence));
  }
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> data =
      RandomAccessFile::Open(JoinPath(dir, kDataFile));
  if (!data.ok()) return data.status();
  if ((*data)->size() != index->data_size) {
    return Corrupt((*data)->path(),
                   absl::StrCat("is ", (*data)->size(), " bytes, index says ",
                                index->data_size));
  }
  LoadedCheckpoint loaded;
  loaded.sequence = sequence;
  loaded.path = dir;
  for (IndexRecord& record : index->records) {
    absl::StatusOr<RestoredVariable> variable =
        ReadValue(**data, std::move(record));
    if (!variable.ok()) return variable.status();
    loaded.variables.push_back(*std::move(variable));
  }
  return loaded;
}

}  // namespace

std::string CheckpointDirName(int64_t sequence) {
  return absl::StrFormat("%s%0*d", kPrefix, kSequenceDigits, sequence);
}

absl::Status WriteCheckpoint(const std::string& root, int64_t sequence,
                             absl::Span<const CheckpointEntry> entries) {
  if (sequence <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint sequence must be positive, got ", sequence));
  }
  absl::StatusOr<std::vector<const CheckpointEntry*>> sorted =
      SortedEntries(entries);
  if (!sorted.ok()) return sorted.status();
  absl::Status status = CreateDirectories(root);
  if (status.ok()) status = RemoveStaleTemporaries(root);
  if (!status.ok()) return status;
  const std::string final_dir = JoinPath(root, CheckpointDirName(sequence));
  if (PathExists(final_dir)) {
    return absl::AlreadyExistsError(final_dir + " already exists");
  }
  const std::string tmp_dir = absl::StrCat(final_dir, kTmpSuffix);
  status = CreateDirectories(tmp_dir);
  if (status.ok()) status = WriteCheckpointFiles(tmp_dir, sequence, *sorted);
  if (status.ok()) status = RenamePath(tmp_dir, final_dir);
  if (!status.ok()) {
    RemoveAll(tmp_dir).IgnoreError();  // Best effort; `status` says why.
    return status;
  }
  return SyncDirectory(root);
}

absl::Status RemoveCheckpointTemporaries(const std::string& root) {
  if (!PathExists(root)) return absl::OkStatus();
  return RemoveStaleTemporaries(root);
}

absl::StatusOr<std::vector<int64_t>> ListCheckpoints(const std::string& root) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(root);
  if (absl::IsNotFound(names.status())) return std::vector<int64_t>();
  if (!names.ok()) return names.status();
  std::vector<int64_t> sequences;
  for (const std::string& name : *names) {
    const int64_t sequence = ParseDirName(name);
    if (sequence > 0) sequences.push_back(sequence);
  }
  std::sort(sequences.begin(), sequences.end());
  return sequences;
}

absl::StatusOr<std::vector<int64_t>> PruneCheckpoints(const std::string& root,
                                                      int keep_last) {
  if (keep_last < 1) {
    return absl::InvalidArgumentError("keep_last must be at least 1");
  }
  absl::StatusOr<std::vector<int64_t>> sequences = ListCheckpoints(root);
  if (!sequences.ok()) return sequences.status();
  const size_t remove = sequences->size() > static_cast<size_t>(keep_last)
                            ? sequences->size() - keep_last
                            : 0;
  for (size_t i = 0; i < remove; ++i) {
    // Oldest first, so a failure midway still leaves the newest ones.
    absl::Status status =
        RemoveAll(JoinPath(root, CheckpointDirName((*sequences)[i])));
    if (!status.ok()) return status;
  }
  sequences->erase(sequences->begin(), sequences->begin() + remove);
  absl::Status status = SyncDirectory(root);
  if (!status.ok()) return status;
  return sequences;
}

absl::StatusOr<LoadedCheckpoint> ReadCheckpoint(const std::string& root,
                                                int64_t sequence) {
  const std::string dir = JoinPath(root, CheckpointDirName(sequence));
  absl::StatusOr<LoadedCheckpoint> loaded = LoadVerified(dir, sequence);
  // A missing index or data file inside an existing directory is damage.
  if (absl::IsNotFound(loaded.status()) && PathExists(dir)) {
    return absl::DataLossError(loaded.status().message());
  }
  return loaded;
}

absl::StatusOr<LoadedCheckpoint> ReadLatestCheckpoint(const std::string& root) {
  absl::StatusOr<std::vector<int64_t>> sequences = ListCheckpoints(root);
  if (!sequences.ok()) return sequences.status();
  if (sequences->empty()) {
    return absl::NotFoundError("no checkpoint under " + root);
  }
  std::vector<std::string> rejected;
  for (auto it = sequences->rbegin(); it != sequences->rend(); ++it) {
    absl::StatusOr<LoadedCheckpoint> loaded = ReadCheckpoint(root, *it);
    if (loaded.ok()) {
      loaded->rejected = std::move(rejected);
      return loaded;
    }
    // Resource and I/O failures are not verdicts on the checkpoint.
    if (!absl::IsDataLoss(loaded.status())) return loaded.status();
    rejected.push_back(std::string(loaded.status().message()));
  }
  return absl::DataLossError(
      absl::StrCat("no checkpoint under ", root,
                   " verifies: ", absl::StrJoin(rejected, "; ")));
}

}  // namespace paramserver
