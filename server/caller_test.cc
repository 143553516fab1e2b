#include "server/caller.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

TokenTable Table() {
  absl::StatusOr<TokenTable> table =
      TokenTable::Parse("r reader\nw writer\nt0 admin tower0\n");
  EXPECT_TRUE(table.ok()) << table.status();
  return *std::move(table);
}

TEST(CallerTest, WithoutATableEveryActionIsAllowed) {
  const Caller caller;
  EXPECT_TRUE(caller.Authorize(Action::kSave, {""}).ok());
  EXPECT_TRUE(caller.Authorize(Action::kDelete, {"v"}).ok());
}

TEST(CallerTest, ChecksItsTokenAgainstTheTable) {
  const TokenTable table = Table();
  EXPECT_TRUE(Caller(table, "r", "peer").Authorize(Action::kRead, {"v"}).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      Caller(table, "r", "peer").Authorize(Action::kWrite, {"v"})));
  EXPECT_TRUE(Caller(table, "t0", "peer")
                  .Authorize(Action::kDelete, {"tower0/v"})
                  .ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      Caller(table, "t0", "peer").Authorize(Action::kRead, {"tower1/v"})));
  EXPECT_TRUE(absl::IsUnauthenticated(
      Caller(table, "", "peer").Authorize(Action::kRead, {})));
  EXPECT_TRUE(absl::IsUnauthenticated(
      Caller(table, "x", "peer").Authorize(Action::kRead, {})));
}

TEST(CallerTest, ATokenErrorIsEveryAnswer) {
  const TokenTable table = Table();
  const Caller caller(table, absl::UnauthenticatedError("Two headers."),
                      "peer");
  for (Action action : {Action::kRead, Action::kWrite, Action::kSave}) {
    absl::Status status = caller.Authorize(action, {"v"});
    EXPECT_TRUE(absl::IsUnauthenticated(status));
    EXPECT_THAT(status.message(), HasSubstr("Two headers."));
  }
}

}  // namespace
}  // namespace paramserver
