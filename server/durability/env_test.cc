#include "server/durability/env.h"

#include <signal.h>
#include <sys/resource.h>

#include <cstdlib>
#include <string>

#include "common/file_size_limit_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string NewTestDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = JoinPath(tmp != nullptr ? tmp : "/tmp", name);
  EXPECT_TRUE(RemoveAll(dir).ok());
  EXPECT_TRUE(CreateDirectories(dir).ok());
  return dir;
}

TEST(EnvTest, AtomicWriteThenRead) {
  const std::string dir = NewTestDir("atomic_write");
  ASSERT_TRUE(WriteFileAtomically(dir, "f", "hello").ok());
  absl::StatusOr<std::string> contents = ReadFile(JoinPath(dir, "f"));
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(*contents, "hello");
  ASSERT_TRUE(WriteFileAtomically(dir, "f", "replaced").ok());
  EXPECT_EQ(*ReadFile(JoinPath(dir, "f")), "replaced");
  EXPECT_THAT(*ListDirectory(dir), ElementsAre("f"));
}

TEST(EnvTest, WriterFailingMidwayLeavesOldFileAndNoTemporary) {
  const std::string dir = NewTestDir("atomic_fail");
  ASSERT_TRUE(WriteFileAtomically(dir, "f", "old").ok());
  absl::Status status =
      WriteFileAtomically(dir, "f", [](WritableFile* file) -> absl::Status {
        absl::Status written = file->Append("new, but only half");
        if (!written.ok()) return written;
        return absl::AbortedError("writer gave up");
      });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(*ReadFile(JoinPath(dir, "f")), "old");
  EXPECT_THAT(*ListDirectory(dir), ElementsAre("f"));
}

TEST(EnvTest, FailedFirstWriteLeavesNothingVisible) {
  const std::string dir = NewTestDir("atomic_fail_new");
  absl::Status status = WriteFileAtomically(
      dir, "f", [](WritableFile*) { return absl::InternalError("boom"); });
  EXPECT_FALSE(status.ok());
  EXPECT_FALSE(PathExists(JoinPath(dir, "f")));
  EXPECT_TRUE(ListDirectory(dir)->empty());
}

TEST(EnvTest, DiskFullIsResourceExhausted) {
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      WritableFile::Open("/dev/full", WritableFile::Mode::kAppend);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::Status status = (*file)->Append("data");
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr("No space left on device"));
  EXPECT_THAT(status.message(), HasSubstr("/dev/full"));
}

TEST(EnvTest, FileSizeLimitDuringAtomicWriteKeepsOldContents) {
  const std::string dir = NewTestDir("atomic_fsize");
  ASSERT_TRUE(WriteFileAtomically(dir, "f", "old").ok());
  absl::Status status;
  {
    FileSizeLimit limit(1000);
    status = WriteFileAtomically(dir, "f", std::string(5000, 'x'));
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_EQ(*ReadFile(JoinPath(dir, "f")), "old");
  EXPECT_THAT(*ListDirectory(dir), ElementsAre("f"));
}

TEST(EnvTest, MissingFilesAreNotFound) {
  const std::string dir = NewTestDir("missing");
  EXPECT_EQ(ReadFile(JoinPath(dir, "nope")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ListDirectory(JoinPath(dir, "nope")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(RemoveAll(JoinPath(dir, "nope")).ok());
}

TEST(EnvTest, PartialAppendIsUndoneByTruncate) {
  const std::string dir = NewTestDir("truncate");
  const std::string path = JoinPath(dir, "log");
  absl::StatusOr<std::unique_ptr<WritableFile>> file =
      WritableFile::Open(path, WritableFile::Mode::kAppend);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append("committed").ok());
  {
    FileSizeLimit limit(12);
    EXPECT_FALSE((*file)->AppendV({"par", "tial record"}).ok());
  }
  EXPECT_EQ((*file)->size(), 9u);
  ASSERT_TRUE((*file)->Truncate((*file)->size()).ok());
  ASSERT_TRUE((*file)->Append("+more").ok());
  EXPECT_EQ(*ReadFile(path), "committed+more");
}

TEST(EnvTest, RemoveAllRemovesTrees) {
  const std::string dir = NewTestDir("tree");
  ASSERT_TRUE(CreateDirectories(JoinPath(dir, "a/b/c")).ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "a/b"), "f", "x").ok());
  ASSERT_TRUE(RemoveAll(JoinPath(dir, "a")).ok());
  EXPECT_FALSE(PathExists(JoinPath(dir, "a")));
}

TEST(EnvTest, MappedFileSeesContents) {
  const std::string dir = NewTestDir("mapped");
  ASSERT_TRUE(WriteFileAtomically(dir, "f", "mapped bytes").ok());
  ASSERT_TRUE(WriteFileAtomically(dir, "empty", "").ok());
  absl::StatusOr<std::unique_ptr<MappedFile>> file =
      MappedFile::Open(JoinPath(dir, "f"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->contents(), "mapped bytes");
  EXPECT_TRUE((*MappedFile::Open(JoinPath(dir, "empty")))->contents().empty());
}

}  // namespace
}  // namespace paramserver
