#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_size_limit_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/durability/log_reader.h"
#include "server/durability/log_writer.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string NewTestDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = JoinPath(tmp != nullptr ? tmp : "/tmp", name);
  EXPECT_TRUE(RemoveAll(dir).ok());
  return dir;
}

std::unique_ptr<WriteAheadLog> OpenLog(
    const std::string& dir, FsyncPolicy policy = FsyncPolicy::kAlways,
    int64_t sequence = 0) {
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> log =
      WriteAheadLog::Open({dir, policy, absl::Seconds(1)}, sequence);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : nullptr;
}

VariableInfo Info(std::string name, TensorShape shape) {
  VariableInfo info;
  info.name = std::move(name);
  info.shape = std::move(shape);
  info.dtype = DType::kFloat;
  info.version = 1;
  return info;
}

std::string Floats(std::vector<float> values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(float));
}

// A record as the tests compare it, with its value copied out.
struct Seen {
  WalRecordType type;
  std::string name;
  int64_t number;  // Checkpoint sequence or version.
  std::string value;
};

absl::StatusOr<ReplayReport> Replay(const std::string& dir, int64_t from,
                                    std::vector<Seen>* seen,
                                    ReplayOptions options = {}) {
  return ReplayWriteAheadLog(
      dir, from,
      [seen](const WalRecord& r) {
        if (r.type == WalRecordType::kPush) {  // The tests push one value.
          EXPECT_EQ(r.values.size(), 1u);
          seen->push_back({r.type, std::string(r.values[0].name),
                           r.values[0].version,
                           std::string(r.values[0].value)});
          return absl::OkStatus();
        }
        seen->push_back({r.type, r.info.name,
                         r.type == WalRecordType::kCheckpoint
                             ? r.checkpoint_sequence
                             : r.info.version,
                         std::string(r.value)});
        return absl::OkStatus();
      },
      options);
}

std::string SegmentPath(const std::string& dir, int64_t sequence) {
  return JoinPath(dir, WalSegmentName(sequence));
}

// Writes marker + create a + set a + delete a; returns the record offsets.
std::vector<uint64_t> WriteThreeRecords(const std::string& dir) {
  std::unique_ptr<WriteAheadLog> log = OpenLog(dir);
  std::vector<uint64_t> offsets;
  const std::string path = SegmentPath(dir, 0);
  offsets.push_back(ReadFile(path)->size());
  EXPECT_TRUE(log->LogCreate(Info("a", {2}), false, Floats({1, 2})).ok());
  offsets.push_back(ReadFile(path)->size());
  EXPECT_TRUE(
      log->LogSetValue("a", 2, Floats({3, 4}), ChangeSource::kAssign).ok());
  offsets.push_back(ReadFile(path)->size());
  EXPECT_TRUE(log->LogDelete("a").ok());
  EXPECT_TRUE(log->Close().ok());
  return offsets;
}

TEST(WriteAheadLogTest, RoundTrip) {
  const std::string dir = NewTestDir("round_trip");
  {
    std::unique_ptr<WriteAheadLog> log = OpenLog(dir);
    VariableInfo info = Info("scope/w", {2, 2});
    info.trainable = false;
    ASSERT_TRUE(log->LogCreate(info, true, Floats({1, 2, 3, 4})).ok());
    ASSERT_TRUE(log->LogCreate(Info("empty", {0}), false, "").ok());
    ASSERT_TRUE(log->LogSetValue("scope/w", 2, Floats({5, 6, 7, 8}),
                                 ChangeSource::kGradient)
                    .ok());
    ASSERT_TRUE(log->LogDelete("scope/w").ok());
  }
  std::vector<WalRecord> records;
  std::vector<std::string> values;
  struct Pushed {
    std::string name;
    int64_t version;
    std::string value;
  };
  std::vector<Pushed> pushed;
  absl::StatusOr<ReplayReport> report =
      ReplayWriteAheadLog(dir, 0, [&](const WalRecord& r) {
        records.push_back(r);
        values.emplace_back(r.value);
        for (const LoggedValue& v : r.values) {
          pushed.push_back(
              {std::string(v.name), v.version, std::string(v.value)});
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->records, 5);
  EXPECT_THAT(report->trimmed, IsEmpty());
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].type, WalRecordType::kCheckpoint);
  EXPECT_EQ(records[0].checkpoint_sequence, 0);
  EXPECT_EQ(records[1].type, WalRecordType::kCreateVariable);
  EXPECT_EQ(records[1].info.name, "scope/w");
  EXPECT_EQ(records[1].info.shape, (TensorShape{2, 2}));
  EXPECT_EQ(records[1].info.dtype, DType::kFloat);
  EXPECT_FALSE(records[1].info.trainable);
  EXPECT_TRUE(records[1].is_slot);
  EXPECT_EQ(values[1], Floats({1, 2, 3, 4}));
  EXPECT_EQ(records[2].info.name, "empty");
  EXPECT_EQ(values[2], "");
  EXPECT_EQ(records[3].type, WalRecordType::kPush);
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_EQ(pushed[0].name, "scope/w");
  EXPECT_EQ(pushed[0].version, 2);
  EXPECT_EQ(pushed[0].value, Floats({5, 6, 7, 8}));
  EXPECT_EQ(records[4].type, WalRecordType::kDeleteVariable);
  EXPECT_EQ(records[4].info.name, "scope/w");
}

// A dynamic table's records read back as written; under kCheckpointOnly a
// gradient change is not written (a checkpoint's dump carries the table).
TEST(WriteAheadLogTest, DynamicTableRecordsRoundTrip) {
  for (const FsyncPolicy policy :
       {FsyncPolicy::kAlways, FsyncPolicy::kCheckpointOnly}) {
    const std::string dir = NewTestDir("table_round_trip");
    TableSpec spec;
    spec.width = 2;
    spec.initializer.kind = InitializerKind::kRandomNormal;
    spec.initializer.seed = 9;
    spec.optimizer = OptimizerKind::kAdagrad;
    spec.capacity = 100;
    const std::vector<int64_t> ids = {4, -8};
    const std::vector<float> entries = {1, 2, 0.1f, 0.1f, 3, 4, 0.5f, 0.5f};
    const std::vector<int64_t> evicted = {77};
    TableChange change;
    change.time_micros = 555;
    change.steps = 3;
    change.written_ids = ids;
    change.written_entries = entries;
    change.evicted_ids = evicted;
    {
      std::unique_ptr<WriteAheadLog> log = OpenLog(dir, policy);
      ASSERT_TRUE(log->AppendCreateTable("emb/users", spec).ok());
      ASSERT_TRUE(
          log->AppendTableChange("emb/users", 4, change, ChangeSource::kAssign)
              .ok());
      ASSERT_TRUE(log->AppendTableChange("emb/users", 4, change,
                                         ChangeSource::kGradient)
                      .ok());
      ASSERT_TRUE(log->Close().ok());
    }
    std::vector<WalRecordType> types;
    std::vector<DecodedTableChange> changes;
    TableSpec read_spec;
    ASSERT_TRUE(ReplayWriteAheadLog(dir, 0, [&](const WalRecord& r) {
                  types.push_back(r.type);
                  if (r.type == WalRecordType::kCreateTable) {
                    EXPECT_EQ(r.info.name, "emb/users");
                    read_spec = r.table_spec;
                  }
                  if (r.type == WalRecordType::kTableChange) {
                    EXPECT_EQ(r.info.name, "emb/users");
                    changes.push_back(r.table_change);
                  }
                  return absl::OkStatus();
                }).ok());
    EXPECT_EQ(read_spec.width, 2);
    EXPECT_EQ(read_spec.capacity, 100);
    EXPECT_EQ(*read_spec.initializer.seed, 9);
    EXPECT_EQ(read_spec.optimizer, OptimizerKind::kAdagrad);
    const size_t expected_changes = policy == FsyncPolicy::kAlways ? 2 : 1;
    ASSERT_EQ(changes.size(), expected_changes);
    EXPECT_EQ(changes[0].time_micros, 555);
    EXPECT_EQ(changes[0].steps, 3);
    EXPECT_EQ(changes[0].written_ids, ids);
    EXPECT_EQ(changes[0].written_entries, entries);
    EXPECT_EQ(changes[0].evicted_ids, evicted);
  }
}

TEST(WriteAheadLogTest, CreateWithWrongValueSizeIsInvalidArgument) {
  std::unique_ptr<WriteAheadLog> log = OpenLog(NewTestDir("bad_create"));
  EXPECT_EQ(log->LogCreate(Info("w", {3}), false, Floats({1})).code(),
            absl::StatusCode::kInvalidArgument);
}

// 2^62 floats "needed" 0 bytes when the size was multiplied out (it wraps
// around 2^64): such a record was written, and read back as valid.
TEST(WriteAheadLogTest, ValueSizeCheckDoesNotWrapAround) {
  std::unique_ptr<WriteAheadLog> log = OpenLog(NewTestDir("wrap_create"));
  EXPECT_EQ(log->LogCreate(Info("w", {int64_t{1} << 62}), false, "").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->LogCreate(Info("w", {int64_t{1} << 61, 2}), false, "").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WriteAheadLogTest, TornTailIsTrimmedAndTheLogStaysAppendable) {
  const std::string dir = NewTestDir("torn");
  std::vector<uint64_t> offsets = WriteThreeRecords(dir);
  const std::string path = SegmentPath(dir, 0);
  const uint64_t size = ReadFile(path)->size();
  ASSERT_EQ(truncate(path.c_str(), static_cast<off_t>(size - 3)), 0);

  std::vector<Seen> seen;
  absl::StatusOr<ReplayReport> report = Replay(dir, 0, &seen);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(seen.size(), 3u);  // Marker, create, set; the delete was torn.
  EXPECT_THAT(report->trimmed,
              HasSubstr(absl::StrCat("torn record at byte ", offsets[2])));
  EXPECT_EQ(ReadFile(path)->size(), offsets[2]);

  std::unique_ptr<WriteAheadLog> log = OpenLog(dir);
  ASSERT_TRUE(log->LogDelete("a").ok());
  ASSERT_TRUE(log->Close().ok());
  seen.clear();
  report = Replay(dir, 0, &seen);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->trimmed, IsEmpty());
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[3].type, WalRecordType::kDeleteVariable);
}

TEST(WriteAheadLogTest, ZeroFilledTailFromPowerLossIsTrimmed) {
  const std::string dir = NewTestDir("zero_tail");
  WriteThreeRecords(dir);
  const std::string path = SegmentPath(dir, 0);
  const uint64_t size = ReadFile(path)->size();
  ASSERT_EQ(truncate(path.c_str(), static_cast<off_t>(size + 4096)), 0);
  std::vector<Seen> seen;
  absl::StatusOr<ReplayReport> report = Replay(dir, 0, &seen);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_THAT(report->trimmed, HasSubstr("4096 bytes"));
  EXPECT_EQ(ReadFile(path)->size(), size);
}

// Random bytes: about 2% of positions carry a known record type, and the
// length a position claims is as often as not within the file.
std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string bytes(size, '\0');
  for (size_t i = 0; i + 4 <= size; i += 4) {
    const uint32_t word = rng();
    std::memcpy(&bytes[i], &word, 4);
  }
  return bytes;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// A crash while a 256 MiB value was being logged: start-up recognises the
// torn record from its header alone and never CRCs the bytes it claims.
// (Before the header CRC, replay tried every byte of such a tail as a
// header and CRCed the length found there: minutes for this size.)
TEST(WriteAheadLogTest, TornLargeRecordIsRecognisedWithoutReadingItsBytes) {
  constexpr size_t kBig = size_t{256} << 20;
  const std::string dir = NewTestDir("torn_large");
  const std::string path = SegmentPath(dir, 0);
  uint64_t before;
  {
    std::unique_ptr<WriteAheadLog> log = OpenLog(dir);
    ASSERT_TRUE(log->LogCreate(Info("a", {2}), false, Floats({1, 2})).ok());
    before = ReadFile(path)->size();
    const std::string big = RandomBytes(kBig, 1);
    ASSERT_TRUE(log->LogCreate(Info("big", {kBig / 4}), false, big).ok());
  }
  const std::string clean_dir = NewTestDir("torn_large_clean");
  ASSERT_TRUE(CreateDirectories(clean_dir).ok());
  ASSERT_EQ(link(path.c_str(), SegmentPath(clean_dir, 0).c_str()), 0);
  std::vector<Seen> seen;
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ReplayReport> clean = ReplayWriteAheadLog(
      clean_dir, 0, [](const WalRecord&) { return absl::OkStatus(); });
  const double clean_seconds =
      Seconds(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(clean.ok()) << clean.status();
  ASSERT_EQ(unlink(SegmentPath(clean_dir, 0).c_str()), 0);

  // Only the first half of the value reached the disk.
  const uint64_t torn_size = before + kBig / 2;
  ASSERT_EQ(truncate(path.c_str(), static_cast<off_t>(torn_size)), 0);
  start = std::chrono::steady_clock::now();
  absl::StatusOr<ReplayReport> report = Replay(dir, 0, &seen);
  const double torn_seconds = Seconds(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(seen.size(), 2u);  // Marker and a.
  EXPECT_THAT(report->trimmed,
              HasSubstr(absl::StrCat("torn record at byte ", before)));
  EXPECT_EQ(ReadFile(path)->size(), before);
  // The torn bytes were never CRCed (only headers, 13 bytes a record, are
  // counted beyond the records before); the clean log's were, once.
  EXPECT_LT(report->bytes_checksummed, before + 100);
  EXPECT_GE(clean->bytes_checksummed, kBig);
  EXPECT_LT(clean->bytes_checksummed, kBig + before + 100);
  std::cout << "replay of 256 MiB: clean " << clean_seconds << " s, torn "
            << torn_seconds << " s\n";
}

// Garbage where the next header should be (a power cut that extended the
// file but lost its pages): one linear search, O(1) CRC bytes per byte.
TEST(WriteAheadLogTest, DamagedHeaderTailIsSearchedOnceInLinearTime) {
  constexpr size_t kTail = size_t{64} << 20;
  const std::string dir = NewTestDir("garbage_tail");
  WriteThreeRecords(dir);
  const std::string path = SegmentPath(dir, 0);
  const uint64_t size = ReadFile(path)->size();
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    const std::string garbage = RandomBytes(kTail, 2);
    out.write(garbage.data(), garbage.size());
  }
  std::vector<Seen> seen;
  absl::StatusOr<ReplayReport> report = Replay(dir, 0, &seen);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_THAT(report->trimmed, HasSubstr("header CRC mismatch"));
  EXPECT_EQ(ReadFile(path)->size(), size);
  EXPECT_LT(report->bytes_checksummed, size + kTail);
}

// A segment is created whole with its first record, so damage there is
// not a torn write: the segment (say, one in an earlier version's format)
// is refused, never trimmed away.
TEST(WriteAheadLogTest, DamagedFirstRecordIsRefusedNotTrimmed) {
  const std::string dir = NewTestDir("damaged_first");
  const std::vector<uint64_t> offsets = WriteThreeRecords(dir);
  const std::string path = SegmentPath(dir, 0);
  // Only the checkpoint record, with its length damaged: no valid record
  // follows, as in a segment of another format.
  std::string contents = ReadFile(path)->substr(0, offsets[0]);
  contents[2] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically(dir, WalSegmentName(0), contents).ok());
  std::vector<Seen> seen;
  absl::StatusOr<ReplayReport> report = Replay(dir, 0, &seen);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(report.status().message(), HasSubstr("corrupt record at byte 0"));
  EXPECT_EQ(ReadFile(path)->size(), contents.size());
}

// Found by fuzz/wal_fuzzer: a version below 1 restored a variable the store
// took for one still being created, and start-up then waited for it forever.
TEST(WriteAheadLogTest, VersionBelowOneIsMalformed) {
  for (const bool push : {false, true}) {
    const std::string dir =
        NewTestDir(push ? "version_push" : "version_create");
    std::unique_ptr<WriteAheadLog> log = OpenLog(dir);
    VariableInfo info = Info("a", {1});
    info.version = push ? 1 : 0;
    ASSERT_TRUE(log->LogCreate(info, false, Floats({1})).ok());
    const uint64_t push_offset = ReadFile(SegmentPath(dir, 0))->size();
    if (push) {
      ASSERT_TRUE(
          log->LogSetValue("a", -3, Floats({2}), ChangeSource::kAssign).ok());
    }
    ASSERT_TRUE(log->Close().ok());
    std::vector<Seen> seen;
    absl::StatusOr<ReplayReport> report = Replay(dir, 0, &seen);
    EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(
        report.status().message(),
        HasSubstr(push ? absl::StrCat("corrupt record at byte ", push_offset,
                                      " (malformed push record)")
                       : "(malformed create record)"));
  }
}

TEST(WriteAheadLogTest, CorruptionInTheMiddleIsDataLossWithOffset) {
  const std::string dir = NewTestDir("middle");
  std::vector<uint64_t> offsets = WriteThreeRecords(dir);
  const std::string path = SegmentPath(dir, 0);
  std::string contents = *ReadFile(path);
  contents[offsets[1] + 20] ^= 0x01;  // Inside the push record's payload.
  ASSERT_TRUE(WriteFileAtomically(dir, WalSegmentName(0), contents).ok());

  std::vector<Seen> seen;
  absl::StatusOr<ReplayReport> report = Replay(dir, 0, &seen);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(report.status().message(),
              HasSubstr(absl::StrCat(path, ": corrupt record at byte ",
                                     offsets[1], " (payload CRC mismatch)")));
  EXPECT_THAT(
      report.status().message(),
      HasSubstr(absl::StrCat("valid records follow at byte ", offsets[2])));
  EXPECT_EQ(ReadFile(path)->size(), contents.size());  // Nothing trimmed.
}

TEST(WriteAheadLogTest, SkipCorruptionStopsThereAndSetsTheRestAside) {
  const std::string dir = NewTestDir("skip");
  std::vector<uint64_t> offsets = WriteThreeRecords(dir);
  std::string contents = *ReadFile(SegmentPath(dir, 0));
  contents[offsets[1] + 12] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically(dir, WalSegmentName(0), contents).ok());

  std::vector<Seen> seen;
  absl::StatusOr<ReplayReport> report =
      Replay(dir, 0, &seen, {.skip_corruption = true});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(seen.size(), 2u);  // Marker and create only.
  EXPECT_THAT(report->skipped_corruption,
              HasSubstr(absl::StrCat("corrupt record at byte ", offsets[1])));
  EXPECT_TRUE(
      PathExists(absl::StrCat(SegmentPath(dir, 0), ".corrupt-", offsets[1])));
  seen.clear();
  report = Replay(dir, 0, &seen);  // Clean now.
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(seen.size(), 2u);
}

TEST(WriteAheadLogTest, RotationReplaysFromTheCheckpointAndRemovesOldSegments) {
  const std::string dir = NewTestDir("rotate");
  std::unique_ptr<WriteAheadLog> log = OpenLog(dir);
  ASSERT_TRUE(log->LogCreate(Info("a", {1}), false, Floats({1})).ok());
  ASSERT_TRUE(log->StartSegment(5).ok());
  EXPECT_EQ(log->StartSegment(5).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      log->LogSetValue("a", 2, Floats({2}), ChangeSource::kAssign).ok());
  ASSERT_TRUE(log->StartSegment(9).ok());
  ASSERT_TRUE(
      log->LogSetValue("a", 3, Floats({3}), ChangeSource::kAssign).ok());

  std::vector<Seen> seen;
  ASSERT_TRUE(Replay(dir, 5, &seen).ok());
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].number, 5);
  EXPECT_EQ(seen[1].number, 2);
  EXPECT_EQ(seen[2].type, WalRecordType::kCheckpoint);
  EXPECT_EQ(seen[2].number, 9);
  EXPECT_EQ(seen[3].value, Floats({3}));

  ASSERT_TRUE(log->RemoveSegmentsBefore(9).ok());
  EXPECT_THAT(*ListDirectory(dir), ElementsAre(WalSegmentName(9)));
  // A restart from checkpoint 9 appends to wal-9.
  ASSERT_TRUE(log->Close().ok());
  log = OpenLog(dir, FsyncPolicy::kAlways, 9);
  EXPECT_EQ(log->segment_sequence(), 9);
}

TEST(WriteAheadLogTest, MissingSegmentOfTheCheckpointIsDataLoss) {
  const std::string dir = NewTestDir("missing");
  std::unique_ptr<WriteAheadLog> log = OpenLog(dir, FsyncPolicy::kAlways, 3);
  ASSERT_TRUE(log->StartSegment(4).ok());
  ASSERT_TRUE(log->Close().ok());
  ASSERT_TRUE(RemoveAll(SegmentPath(dir, 3)).ok());
  std::vector<Seen> seen;
  absl::StatusOr<ReplayReport> report = Replay(dir, 3, &seen);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(report.status().message(), HasSubstr(WalSegmentName(3)));
  EXPECT_TRUE(Replay(dir, 4, &seen).ok());  // Nothing missing from 4 on.
}

TEST(WriteAheadLogTest, CorruptNonFinalSegmentIsDataLoss) {
  const std::string dir = NewTestDir("corrupt_old_segment");
  std::unique_ptr<WriteAheadLog> log = OpenLog(dir);
  ASSERT_TRUE(log->LogDelete("x").ok());
  ASSERT_TRUE(log->StartSegment(1).ok());
  ASSERT_TRUE(log->Close().ok());
  const std::string path = SegmentPath(dir, 0);
  ASSERT_EQ(truncate(path.c_str(), ReadFile(path)->size() - 1), 0);
  std::vector<Seen> seen;
  absl::StatusOr<ReplayReport> report = Replay(dir, 0, &seen);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(report.status().message(),
              HasSubstr("1 later segment(s) follow"));
}

TEST(WriteAheadLogTest, VisitorErrorStopsReplay) {
  const std::string dir = NewTestDir("visitor_error");
  WriteThreeRecords(dir);
  int calls = 0;
  absl::StatusOr<ReplayReport> report =
      ReplayWriteAheadLog(dir, 0, [&](const WalRecord&) {
        return ++calls == 2 ? absl::InternalError("apply failed")
                            : absl::OkStatus();
      });
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(calls, 2);
}

TEST(WriteAheadLogTest, DiskFullIsResourceExhaustedAndLosesNothingLogged) {
  const std::string dir = NewTestDir("disk_full");
  std::unique_ptr<WriteAheadLog> log = OpenLog(dir);
  ASSERT_TRUE(log->LogCreate(Info("a", {1}), false, Floats({1})).ok());
  const uint64_t size = ReadFile(SegmentPath(dir, 0))->size();
  absl::Status status;
  {
    FileSizeLimit limit(size + 20);
    status =
        log->LogSetValue("a", 2, std::string(4000, 'x'), ChangeSource::kAssign);
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_EQ(ReadFile(SegmentPath(dir, 0))->size(), size);  // Cut off again.
  ASSERT_TRUE(
      log->LogSetValue("a", 2, Floats({2}), ChangeSource::kAssign).ok());
  ASSERT_TRUE(log->Close().ok());

  std::vector<Seen> seen;
  absl::StatusOr<ReplayReport> report = Replay(dir, 0, &seen);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->trimmed, IsEmpty());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].value, Floats({2}));
}

TEST(WriteAheadLogTest, ConcurrentAppendsAreAllReplayedInOrderPerThread) {
  const std::string dir = NewTestDir("concurrent");
  constexpr int kThreads = 6;
  constexpr int kPerThread = 150;
  {
    std::unique_ptr<WriteAheadLog> log = OpenLog(dir, FsyncPolicy::kAlways);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 1; i <= kPerThread; ++i) {
          EXPECT_TRUE(log->LogSetValue(absl::StrCat("v", t), i,
                                       Floats({float(i), float(t)}),
                                       ChangeSource::kGradient)
                          .ok());
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_GE(log->sync_count(), 1);
  }
  std::map<std::string, int64_t> last_version;
  absl::StatusOr<ReplayReport> report =
      ReplayWriteAheadLog(dir, 0, [&](const WalRecord& r) {
        if (r.type != WalRecordType::kPush) return absl::OkStatus();
        const LoggedValue& v = r.values.at(0);
        int64_t& last = last_version[std::string(v.name)];
        EXPECT_EQ(v.version, last + 1) << v.name;
        EXPECT_EQ(v.value, Floats({float(v.version), float(v.name[1] - '0')}));
        last = v.version;
        return absl::OkStatus();
      });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->records, 1 + kThreads * kPerThread);
  EXPECT_EQ(last_version.size(), size_t{kThreads});
  for (const auto& [name, version] : last_version)
    EXPECT_EQ(version, kPerThread);
}

TEST(WriteAheadLogTest, EverySecondFlusherSyncsAndStopsCleanly) {
  const std::string dir = NewTestDir("everysec");
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> log = WriteAheadLog::Open(
      {dir, FsyncPolicy::kEverySecond, absl::Milliseconds(10)}, 0);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->LogDelete("x").ok());
  EXPECT_EQ((*log)->sync_count(), 0);  // Not synced inline.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((*log)->sync_count() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE((*log)->sync_count(), 1);
  const absl::Time before_close = absl::Now();
  ASSERT_TRUE((*log)->Close().ok());
  EXPECT_LT(absl::Now() - before_close, absl::Seconds(1));
  EXPECT_EQ((*log)->LogDelete("y").code(),
            absl::StatusCode::kFailedPrecondition);
  // Destroying without Close, with the default one-second interval, is quick.
  const absl::Time before_destroy = absl::Now();
  OpenLog(dir, FsyncPolicy::kEverySecond).reset();
  EXPECT_LT(absl::Now() - before_destroy, absl::Seconds(1));
}

TEST(WriteAheadLogTest, CheckpointOnlyPolicyLogsAssignmentsButNotGradients) {
  const std::string dir = NewTestDir("checkpoint_only");
  {
    std::unique_ptr<WriteAheadLog> log =
        OpenLog(dir, FsyncPolicy::kCheckpointOnly);
    ASSERT_TRUE(
        log->LogSetValue("a", 2, Floats({2}), ChangeSource::kGradient).ok());
    ASSERT_TRUE(
        log->LogSetValue("a", 3, Floats({3}), ChangeSource::kAssign).ok());
    EXPECT_EQ(log->sync_count(), 0);
  }
  std::vector<Seen> seen;
  ASSERT_TRUE(Replay(dir, 0, &seen).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].number, 3);
}

TEST(WriteAheadLogTest, ParsesPolicyNames) {
  EXPECT_EQ(*ParseFsyncPolicy("always"), FsyncPolicy::kAlways);
  EXPECT_EQ(*ParseFsyncPolicy("everysec"), FsyncPolicy::kEverySecond);
  EXPECT_EQ(*ParseFsyncPolicy("checkpoint"), FsyncPolicy::kCheckpointOnly);
  EXPECT_EQ(ParseFsyncPolicy("sometimes").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace paramserver
