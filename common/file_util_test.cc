#include "common/file_util.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

std::string TestPath(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return std::string(tmp != nullptr ? tmp : "/tmp") + "/" + name;
}

TEST(FileUtilTest, ReadsWholeFile) {
  const std::string path = TestPath("whole");
  const std::string contents = std::string(100000, 'x') + "end";
  std::ofstream(path, std::ios::binary) << contents;
  absl::StatusOr<std::string> read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, contents);
}

TEST(FileUtilTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadFile(TestPath("nope")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(FileUtilTest, DiskFullIsResourceExhausted) {
  EXPECT_EQ(ErrnoToStatus(ENOSPC, "write f").code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace paramserver
