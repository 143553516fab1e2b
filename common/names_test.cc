#include "common/names.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(NamesTest, AcceptsTensorFlowNames) {
  for (const char* name :
       {"v", "conv1/weights", "a.b/c-d_e", ".hidden", "0",
        "tower_0/conv1/Adam_1", "s/_x", "s/-y", "a>b", "s/>"}) {
    EXPECT_TRUE(ValidateFullName(name, "name").ok()) << name;
  }
}

TEST(NamesTest, RejectsWhatTensorFlowRejectsAndPathTricks) {
  for (const char* name : {"", "_v", "-v", ">v", "/v", "v/", "a//b", "a b",
                           "a:0", "a/../b", "a/./b", "..", "v\n", "a<b"}) {
    absl::Status status = ValidateFullName(name, "variable name");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_NE(status.message().find("Invalid variable name"),
              std::string::npos);
  }
}

TEST(NamesTest, LimitsLengthAndDepth) {
  EXPECT_FALSE(
      ValidateFullName(std::string(kMaxNameLength + 1, 'a'), "n").ok());
  std::string deep = "a";
  for (int i = 0; i < kMaxNameComponents; ++i) deep += "/a";
  EXPECT_FALSE(ValidateFullName(deep, "n").ok());
}

// tf.get_variable checks "scope/name" as a whole: "_x" may follow a scope.
TEST(NamesTest, ScopedNameIsCheckedWhole) {
  EXPECT_TRUE(ValidateScopedName("s", "_x").ok());
  EXPECT_TRUE(ValidateScopedName("", "s/_x").ok());
  EXPECT_TRUE(ValidateScopedName("s", "-y").ok());
  EXPECT_TRUE(ValidateScopedName("a/b", "c").ok());
  for (const auto& [scope, name] :
       std::vector<std::pair<const char*, const char*>>{{"", "_x"},
                                                        {"_s", "x"},
                                                        {"", ""},
                                                        {"s", ""},
                                                        {"s/", "x"},
                                                        {"s", "/x"},
                                                        {"s", ".."},
                                                        {"..", "x"},
                                                        {"s", "a b"}}) {
    absl::Status status = ValidateScopedName(scope, name);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << scope << " + " << name;
    // Both spellings of one full name get the same answer.
    EXPECT_EQ(status.code(),
              ValidateScopedName("", JoinScope(scope, name)).code());
  }
  EXPECT_EQ(ValidateScopedName("s", "").message(),
            "Invalid variable name '': it is empty.");
  EXPECT_EQ(ValidateScopedName("_s", "x"), ValidateScopedName("", "_s/x"));
}

TEST(NamesTest, ScopeMayBeEmpty) {
  EXPECT_TRUE(ValidateScope("").ok());
  EXPECT_FALSE(ValidateScope("/").ok());
}

TEST(NamesTest, JoinAndPrefix) {
  EXPECT_EQ(JoinScope("", "v"), "v");
  EXPECT_EQ(JoinScope("foo/bar", "v"), "foo/bar/v");
  EXPECT_TRUE(IsUnderPrefix("foo/v", "foo"));
  EXPECT_TRUE(IsUnderPrefix("foo", "foo"));
  EXPECT_TRUE(IsUnderPrefix("foo/v", ""));
  EXPECT_FALSE(IsUnderPrefix("foo_1/v", "foo"));
  EXPECT_FALSE(IsUnderPrefix("foobar", "foo"));
  EXPECT_FALSE(IsUnderPrefix("fo", "foo"));
}

}  // namespace
}  // namespace paramserver
