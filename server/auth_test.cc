#include "server/auth.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokens[] =
    "# Comments and blank lines are skipped.\n"
    "\n"
    "r-token reader\n"
    "w-token\twriter\n"
    "a-token admin\n"
    "tower0-token writer tower0\n"
    "towers-token reader tower0,tower1/sub\n";

TokenTable Table() {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(kTokens);
  EXPECT_TRUE(table.ok()) << table.status();
  return *std::move(table);
}

TEST(TokenTableTest, ParsesEveryEntry) { EXPECT_EQ(Table().size(), 5u); }

TEST(TokenTableTest, RejectsMalformedLinesNamingTheLineNotTheToken) {
  for (const char* text : {"secret\n", "secret reader a b\n", "secret root\n",
                           "secret reader a//b\n", "secret reader a,,b\n",
                           "secret reader\nsecret writer\n"}) {
    absl::StatusOr<TokenTable> table = TokenTable::Parse(text);
    EXPECT_TRUE(absl::IsInvalidArgument(table.status())) << text;
    EXPECT_THAT(table.status().message(), HasSubstr("line")) << text;
    EXPECT_THAT(table.status().message(), Not(HasSubstr("secret"))) << text;
  }
}

TEST(TokenTableTest, EmptyTextIsAnEmptyTable) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse("# none\n");
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->size(), 0u);
}

TEST(TokenTableTest, MissingOrUnknownTokenIsUnauthenticated) {
  const TokenTable table = Table();
  EXPECT_TRUE(
      absl::IsUnauthenticated(table.Authorize("", Action::kRead, {"v"})));
  EXPECT_TRUE(
      absl::IsUnauthenticated(table.Authorize("r-toke", Action::kRead, {"v"})));
  EXPECT_TRUE(absl::IsUnauthenticated(
      table.Authorize("r-tokenx", Action::kRead, {"v"})));
}

TEST(TokenTableTest, RolesAllowTheirActionsAndThoseBelow) {
  const TokenTable table = Table();
  struct Case {
    const char* token;
    Action action;
    bool allowed;
  };
  for (const Case& c : std::vector<Case>{
           {"r-token", Action::kRead, true},
           {"r-token", Action::kCreate, false},
           {"r-token", Action::kWrite, false},
           {"r-token", Action::kDelete, false},
           {"w-token", Action::kRead, true},
           {"w-token", Action::kCreate, true},
           {"w-token", Action::kWrite, true},
           {"w-token", Action::kDelete, false},
           {"w-token", Action::kSave, false},
           {"a-token", Action::kDelete, true},
           {"a-token", Action::kSave, true},
       }) {
    const absl::Status status = table.Authorize(c.token, c.action, {"x/v"});
    if (c.allowed) {
      EXPECT_TRUE(status.ok()) << c.token << " " << ActionName(c.action);
    } else {
      EXPECT_TRUE(absl::IsPermissionDenied(status))
          << c.token << " " << ActionName(c.action);
      EXPECT_THAT(status.message(),
                  HasSubstr(RoleName(RequiredRole(c.action))));
      EXPECT_THAT(status.message(), Not(HasSubstr("-token")));
    }
  }
}

TEST(TokenTableTest, PrefixesMatchWholePathComponents) {
  const TokenTable table = Table();
  EXPECT_TRUE(
      table.Authorize("tower0-token", Action::kWrite, {"tower0/w"}).ok());
  EXPECT_TRUE(table.Authorize("tower0-token", Action::kWrite, {"tower0"}).ok());
  EXPECT_TRUE(
      table.Authorize("tower0-token", Action::kCreate, {"tower0/a/b"}).ok());
  for (const char* name : {"tower1/w", "tower01/w", "w", "x/tower0/w"}) {
    const absl::Status status =
        table.Authorize("tower0-token", Action::kWrite, {name});
    EXPECT_TRUE(absl::IsPermissionDenied(status)) << name;
    EXPECT_THAT(status.message(), HasSubstr("tower0")) << name;
  }
}

TEST(TokenTableTest, EveryNameMustBeCovered) {
  const TokenTable table = Table();
  EXPECT_TRUE(table
                  .Authorize("towers-token", Action::kRead,
                             {"tower0/w", "tower1/sub/w"})
                  .ok());
  EXPECT_TRUE(absl::IsPermissionDenied(table.Authorize(
      "towers-token", Action::kRead, {"tower0/w", "tower1/other"})));
}

TEST(TokenTableTest, TheWholeStoreNeedsAnUnlimitedToken) {
  const TokenTable table = Table();
  EXPECT_TRUE(table.Authorize("r-token", Action::kRead, {""}).ok());
  const absl::Status status =
      table.Authorize("tower0-token", Action::kRead, {""});
  EXPECT_TRUE(absl::IsPermissionDenied(status));
  EXPECT_THAT(status.message(), HasSubstr("whole store"));
}

TEST(TokenTableTest, RoleIsCheckedBeforePrefixes) {
  const absl::Status status =
      Table().Authorize("tower0-token", Action::kDelete, {"tower1/w"});
  EXPECT_TRUE(absl::IsPermissionDenied(status));
  EXPECT_THAT(status.message(), HasSubstr("admin"));
}

TEST(ConstantTimeEqualsTest, ComparesContentsAndLengths) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0", 2), "a"));
}

}  // namespace
}  // namespace paramserver
