#include "server/durability/checkpoint.h"

#include <signal.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/file_size_limit_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/durability/env.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string NewTestDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = JoinPath(tmp != nullptr ? tmp : "/tmp", name);
  EXPECT_TRUE(RemoveAll(dir).ok());
  return dir;
}

// A value of `bytes` bytes, each a function of `seed` and its index.
std::shared_ptr<const TensorBuffer> Pattern(size_t bytes, int seed) {
  std::shared_ptr<TensorBuffer> buffer = *TensorBuffer::Allocate(bytes);
  for (size_t i = 0; i < bytes; ++i) {
    buffer->data()[i] = static_cast<char>((i * 131 + seed * 7) >> 3);
  }
  return buffer;
}

CheckpointEntry Entry(std::string name, DType dtype, TensorShape shape,
                      int seed, int64_t version = 1) {
  CheckpointEntry entry;
  entry.info.name = std::move(name);
  entry.info.dtype = dtype;
  entry.info.shape = std::move(shape);
  entry.info.version = version;
  int64_t elements = 1;
  for (int64_t dim : entry.info.shape) elements *= dim;
  entry.value = Pattern(elements * DTypeSize(dtype), seed);
  return entry;
}

std::string Bytes(const TensorBuffer& buffer) {
  return std::string(buffer.data(), buffer.size());
}

void FlipByte(const std::string& path, size_t offset) {
  std::string contents = *ReadFile(path);
  ASSERT_LT(offset, contents.size());
  contents[offset] ^= 0x04;
  const size_t slash = path.rfind('/');
  ASSERT_TRUE(WriteFileAtomically(path.substr(0, slash), path.substr(slash + 1),
                                  contents)
                  .ok());
}

void TruncateTo(const std::string& path, size_t size) {
  ASSERT_EQ(truncate(path.c_str(), static_cast<off_t>(size)), 0);
}

std::string CkptFile(const std::string& root, int64_t sequence,
                     const std::string& file) {
  return JoinPath(JoinPath(root, CheckpointDirName(sequence)), file);
}

TEST(CheckpointTest, RoundTripOfSeveralDtypesAndShapes) {
  const std::string root = NewTestDir("round_trip");
  std::vector<CheckpointEntry> entries = {
      Entry("layer/w", DType::kFloat, {3, 5}, 1, 7),
      Entry("layer/b", DType::kDouble, {5}, 2),
      Entry("step", DType::kInt64, {}, 3, 42),
      Entry("ids", DType::kInt32, {2, 2, 3}, 4),
      Entry("mask", DType::kBool, {9}, 5),
      Entry("empty", DType::kFloat, {0, 4}, 6),
      Entry("big", DType::kFloat, {6, 1000, 1000}, 7),  // 24 MB.
  };
  entries[0].info.trainable = false;
  entries[1].is_slot = true;
  ASSERT_TRUE(WriteCheckpoint(root, 1, entries).ok());

  absl::StatusOr<LoadedCheckpoint> loaded = ReadLatestCheckpoint(root);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->sequence, 1);
  EXPECT_THAT(loaded->rejected, IsEmpty());
  ASSERT_THAT(loaded->variables, SizeIs(entries.size()));
  for (const CheckpointEntry& entry : entries) {
    const auto it =
        std::find_if(loaded->variables.begin(), loaded->variables.end(),
                     [&](const RestoredVariable& v) {
                       return v.info.name == entry.info.name;
                     });
    ASSERT_NE(it, loaded->variables.end()) << entry.info.name;
    EXPECT_EQ(it->info.dtype, entry.info.dtype) << entry.info.name;
    EXPECT_EQ(it->info.shape, entry.info.shape) << entry.info.name;
    EXPECT_EQ(it->info.version, entry.info.version) << entry.info.name;
    EXPECT_EQ(it->info.trainable, entry.info.trainable) << entry.info.name;
    EXPECT_EQ(it->is_slot, entry.is_slot) << entry.info.name;
    EXPECT_TRUE(Bytes(*it->value) == Bytes(*entry.value)) << entry.info.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(it->value->data()) %
                  TensorBuffer::kAlignment,
              0u);
  }
  // Sorted by name: a restore can be matched against any store's layout.
  EXPECT_EQ(loaded->variables.front().info.name, "big");
  EXPECT_EQ(loaded->variables.back().info.name, "step");
}

TEST(CheckpointTest, ValuesAre64ByteAlignedInTheDataFile) {
  const std::string root = NewTestDir("aligned");
  ASSERT_TRUE(WriteCheckpoint(root, 1,
                              {Entry("a", DType::kBool, {3}, 1),
                               Entry("b", DType::kBool, {5}, 2)})
                  .ok());
  const std::string data = *ReadFile(CkptFile(root, 1, "data"));
  ASSERT_EQ(data.size(), 64u + 5u);
  EXPECT_EQ(data.substr(64), Bytes(*Pattern(5, 2)));
  EXPECT_EQ(data.substr(3, 61), std::string(61, '\0'));
}

TEST(CheckpointTest, BitFlipInDataRejectsThatCheckpointAndLoadsThePrevious) {
  const std::string root = NewTestDir("bit_flip");
  ASSERT_TRUE(
      WriteCheckpoint(root, 1, {Entry("w", DType::kFloat, {64}, 1)}).ok());
  ASSERT_TRUE(
      WriteCheckpoint(root, 2, {Entry("w", DType::kFloat, {64}, 2)}).ok());
  FlipByte(CkptFile(root, 2, "data"), 100);

  absl::StatusOr<LoadedCheckpoint> loaded = ReadLatestCheckpoint(root);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->sequence, 1);
  EXPECT_TRUE(Bytes(*loaded->variables[0].value) == Bytes(*Pattern(256, 1)));
  ASSERT_THAT(loaded->rejected, SizeIs(1));
  EXPECT_THAT(loaded->rejected[0], HasSubstr("CRC mismatch for variable w"));
  EXPECT_THAT(loaded->rejected[0], HasSubstr(CheckpointDirName(2)));
}

// The hole fuzz/wal_fuzzer found in the log (WriteAheadLogTest.
// VersionBelowOneIsMalformed), here: a version below 1 restored a variable
// the store took for one still being created, and start-up then waited for
// it forever.
TEST(CheckpointTest, VersionBelowOneIsRejected) {
  const std::string root = NewTestDir("version_below_one");
  ASSERT_TRUE(
      WriteCheckpoint(root, 1, {Entry("a", DType::kFloat, {2}, 1, 0)}).ok());
  absl::StatusOr<LoadedCheckpoint> loaded = ReadCheckpoint(root, 1);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("variable a has version 0"));
}

TEST(CheckpointTest, TruncatedIndexIsRejected) {
  const std::string root = NewTestDir("truncated_index");
  ASSERT_TRUE(
      WriteCheckpoint(root, 1, {Entry("w", DType::kFloat, {4}, 1)}).ok());
  ASSERT_TRUE(
      WriteCheckpoint(root, 2, {Entry("w", DType::kFloat, {4}, 2)}).ok());
  const std::string index = CkptFile(root, 2, "index");
  TruncateTo(index, ReadFile(index)->size() - 10);

  absl::StatusOr<LoadedCheckpoint> loaded = ReadLatestCheckpoint(root);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->sequence, 1);
  ASSERT_THAT(loaded->rejected, SizeIs(1));
  EXPECT_THAT(loaded->rejected[0], HasSubstr("index CRC mismatch"));
}

TEST(CheckpointTest, TruncatedDataAndMissingIndexAreRejected) {
  const std::string root = NewTestDir("truncated_data");
  ASSERT_TRUE(
      WriteCheckpoint(root, 1, {Entry("w", DType::kFloat, {4}, 1)}).ok());
  ASSERT_TRUE(
      WriteCheckpoint(root, 2, {Entry("w", DType::kFloat, {40}, 2)}).ok());
  ASSERT_TRUE(
      WriteCheckpoint(root, 3, {Entry("w", DType::kFloat, {4}, 3)}).ok());
  TruncateTo(CkptFile(root, 2, "data"), 100);
  ASSERT_EQ(unlink(CkptFile(root, 3, "index").c_str()), 0);

  absl::StatusOr<LoadedCheckpoint> loaded = ReadLatestCheckpoint(root);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->sequence, 1);
  ASSERT_THAT(loaded->rejected, SizeIs(2));
  EXPECT_THAT(loaded->rejected[0], HasSubstr("index"));
  EXPECT_THAT(loaded->rejected[1], HasSubstr("is 100 bytes, index says 160"));
}

TEST(CheckpointTest, NoCheckpointIsNotFoundAndAllBadIsDataLoss) {
  const std::string root = NewTestDir("none");
  EXPECT_EQ(ReadLatestCheckpoint(root).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(
      WriteCheckpoint(root, 5, {Entry("w", DType::kInt32, {4}, 1)}).ok());
  FlipByte(CkptFile(root, 5, "index"), 20);
  absl::StatusOr<LoadedCheckpoint> loaded = ReadLatestCheckpoint(root);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr(CheckpointDirName(5)));
}

TEST(CheckpointTest, InterruptedWriteLeavesNothingVisibleAndIsCleanedUp) {
  const std::string root = NewTestDir("interrupted");
  ASSERT_TRUE(
      WriteCheckpoint(root, 1, {Entry("w", DType::kFloat, {4}, 1)}).ok());
  // What a crash mid-write leaves behind.
  ASSERT_TRUE(
      CreateDirectories(JoinPath(root, CheckpointDirName(2) + ".tmp")).ok());
  EXPECT_EQ(ReadLatestCheckpoint(root)->sequence, 1);
  ASSERT_TRUE(
      WriteCheckpoint(root, 3, {Entry("w", DType::kFloat, {4}, 3)}).ok());
  EXPECT_THAT(*ListDirectory(root),
              ElementsAre(CheckpointDirName(1), CheckpointDirName(3)));
}

TEST(CheckpointTest, DiskFullIsResourceExhaustedAndKeepsThePreviousOne) {
  const std::string root = NewTestDir("disk_full");
  ASSERT_TRUE(
      WriteCheckpoint(root, 1, {Entry("w", DType::kFloat, {4}, 1)}).ok());
  absl::Status status;
  {
    FileSizeLimit limit(4096);
    status = WriteCheckpoint(root, 2, {Entry("w", DType::kFloat, {4096}, 2)});
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(*ListDirectory(root), ElementsAre(CheckpointDirName(1)));
  absl::StatusOr<LoadedCheckpoint> loaded = ReadLatestCheckpoint(root);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->sequence, 1);
}

TEST(CheckpointTest, PruneKeepsTheNewest) {
  const std::string root = NewTestDir("prune");
  for (int64_t s : {3, 7, 8, 12}) {
    ASSERT_TRUE(
        WriteCheckpoint(root, s, {Entry("w", DType::kFloat, {1}, 1)}).ok());
  }
  absl::StatusOr<std::vector<int64_t>> kept = PruneCheckpoints(root, 2);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_THAT(*kept, ElementsAre(8, 12));
  EXPECT_THAT(*ListCheckpoints(root), ElementsAre(8, 12));
}

TEST(CheckpointTest, BadInputIsInvalidArgument) {
  const std::string root = NewTestDir("bad_input");
  CheckpointEntry wrong_size = Entry("w", DType::kFloat, {4}, 1);
  wrong_size.info.shape = {5};
  EXPECT_EQ(WriteCheckpoint(root, 1, {wrong_size}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteCheckpoint(root, 1,
                            {Entry("w", DType::kFloat, {1}, 1),
                             Entry("w", DType::kFloat, {1}, 2)})
                .code(),
            absl::StatusCode::kInvalidArgument);
  // 2^62 floats "needed" 0 bytes when the size was multiplied out (it
  // wraps around 2^64).
  CheckpointEntry wraps = Entry("w", DType::kFloat, {0}, 1);
  wraps.info.shape = {int64_t{1} << 62};
  EXPECT_EQ(WriteCheckpoint(root, 1, {wraps}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteCheckpoint(root, 0, {}).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(WriteCheckpoint(root, 1, {}).ok());
  EXPECT_EQ(WriteCheckpoint(root, 1, {}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(ReadLatestCheckpoint(root)->variables, IsEmpty());
}

}  // namespace
}  // namespace paramserver
