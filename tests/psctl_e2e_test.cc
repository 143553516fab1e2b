// psctl against the real server: JSON on stdout, "CODE: message" on stderr
// with a non-zero exit status.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class PsctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  CommandResult Psctl(std::vector<std::string> args) {
    args.insert(args.begin(), {PsctlBinary(), "--server=" + server_->target()});
    return RunCommand(args);
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_F(PsctlTest, GetCreatesThenReusesWithDeterministicValues) {
  CommandResult created =
      Psctl({"get", "--scope=conv1", "--name=biases", "--shape=3",
             "--initializer=constant", "--value=0.5", "--values"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(created.out,
            "{\"name\":\"conv1/biases\",\"shape\":[3],\"dtype\":\"float32\","
            "\"version\":1,\"trainable\":true,\"created\":true,"
            "\"values\":[0.5,0.5,0.5]}\n");

  CommandResult reused =
      Psctl({"get", "--scope=conv1", "--name=biases", "--reuse=true"});
  ASSERT_EQ(reused.exit_code, 0) << reused.err;
  EXPECT_THAT(reused.out, HasSubstr("\"created\":false"));
  EXPECT_THAT(reused.out, Not(HasSubstr("values")));
}

TEST_F(PsctlTest, SeededInitializerGivesTheSameValuesOnAnyServer) {
  const std::vector<std::string> get = {
      "get",         "--name=w",
      "--shape=2,2", "--initializer=truncated_normal",
      "--stddev=2",  "--seed=17",
      "--values"};
  CommandResult first = Psctl(get);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_TRUE(Psctl({"delete", "w"}).exit_code == 0);
  CommandResult second = Psctl(get);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(first.out, second.out);
}

// TF 1.15's constant_initializer with 8 values: [2,4] row-major, [3,4] with
// the last value repeated, [2,3] refused with TF's text.
TEST_F(PsctlTest, ConstantListFillsLikeTensorFlow) {
  const std::string eight = "--value=1,2,3,4,5,6,7,8";
  CommandResult exact = Psctl({"get", "--name=a", "--shape=2,4",
                               "--initializer=constant", eight, "--values"});
  ASSERT_EQ(exact.exit_code, 0) << exact.err;
  EXPECT_THAT(exact.out, HasSubstr("\"values\":[1,2,3,4,5,6,7,8]}"));
  CommandResult padded = Psctl({"get", "--name=b", "--shape=3,4",
                                "--initializer=constant", eight, "--values"});
  ASSERT_EQ(padded.exit_code, 0) << padded.err;
  EXPECT_THAT(padded.out, HasSubstr("\"values\":[1,2,3,4,5,6,7,8,8,8,8,8]}"));
  CommandResult too_many = Psctl(
      {"get", "--name=c", "--shape=2,3", "--initializer=constant", eight});
  EXPECT_EQ(too_many.exit_code, 1);
  EXPECT_THAT(too_many.err,
              StartsWith("INVALID_ARGUMENT: Too many elements provided. Needed "
                         "at most 6, but received 8"));
}

TEST_F(PsctlTest, IntegerRandomUniformNeedsMaxval) {
  CommandResult missing =
      Psctl({"get", "--name=i", "--shape=4", "--dtype=int32",
             "--initializer=random_uniform"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err,
              StartsWith("INVALID_ARGUMENT: Must specify maxval for integer "
                         "dtype tf.int32"));
  CommandResult given = Psctl({"get", "--name=i", "--shape=4", "--dtype=int32",
                               "--initializer=random_uniform", "--minval=7",
                               "--maxval=8", "--values"});
  ASSERT_EQ(given.exit_code, 0) << given.err;
  EXPECT_THAT(given.out, HasSubstr("\"values\":[7,7,7,7]}"));
}

// int64 values are exact from the command line to the JSON output, which
// prints them as exact decimal digits (JSON numbers), beyond 2^53 too.
TEST_F(PsctlTest, Int64ValuesAreExactEndToEnd) {
  CommandResult created = Psctl(
      {"get", "--name=ids", "--shape=4", "--dtype=int64",
       "--initializer=constant",
       "--value=9007199254740993,-9223372036854775808,9223372036854775807",
       "--values"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.out,
              HasSubstr("\"values\":[9007199254740993,-9223372036854775808,"
                        "9223372036854775807,9223372036854775807]}"));
  CommandResult drawn =
      Psctl({"get", "--name=r", "--shape=3", "--dtype=int64",
             "--initializer=random_uniform", "--minval=9007199254740993",
             "--maxval=9007199254740994", "--values"});
  ASSERT_EQ(drawn.exit_code, 0) << drawn.err;
  EXPECT_THAT(drawn.out,
              HasSubstr("\"values\":[9007199254740993,9007199254740993,"
                        "9007199254740993]}"));
}

TEST_F(PsctlTest, ReadListAndDelete) {
  for (const char* name : {"a/x", "a/b/y", "a_1/z"}) {
    ASSERT_EQ(Psctl({"get", std::string("--name=") + name, "--shape=[]",
                     "--dtype=int64"})
                  .exit_code,
              0);
  }
  CommandResult read = Psctl({"read", "a/x", "--values"});
  ASSERT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(read.out,
            "{\"name\":\"a/x\",\"shape\":[],\"dtype\":\"int64\",\"version\":1,"
            "\"trainable\":true,\"values\":[0]}\n");

  CommandResult listed = Psctl({"list", "a"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, StartsWith("{\"name\":\"a/b/y\""));
  EXPECT_THAT(listed.out, HasSubstr("\n{\"name\":\"a/x\""));
  EXPECT_THAT(listed.out, Not(HasSubstr("a_1")));

  CommandResult deleted = Psctl({"delete", "--scope=a"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(deleted.out, "{\"deleted\":[\"a/b/y\",\"a/x\"]}\n");
  EXPECT_EQ(Psctl({"list"}).out.find("a/x"), std::string::npos);
}

TEST_F(PsctlTest, RowsPrintsTheRowsOfATableById) {
  ASSERT_EQ(Psctl({"get", "--name=emb", "--shape=4,2", "--dtype=int32",
                   "--initializer=constant", "--value=0,1,10,11,20,21,30,31",
                   "--value_shape=4,2"})
                .exit_code,
            0);
  CommandResult rows = Psctl({"rows", "emb", "--ids=3,0,3"});
  ASSERT_EQ(rows.exit_code, 0) << rows.err;
  EXPECT_EQ(
      rows.out,
      "{\"name\":\"emb\",\"shape\":[4,2],\"dtype\":\"int32\",\"version\":1,"
      "\"ids\":[3,0,3],\"rows\":[[30,31],[0,1],[30,31]]}\n");
  CommandResult bad = Psctl({"rows", "emb", "--ids=1,4"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err,
            "INVALID_ARGUMENT: indices[1] = 4 is not in [0, 4): emb has 4 "
            "rows.\n");
}

TEST_F(PsctlTest, ErrorsGoToStderrWithTheirCode) {
  ASSERT_EQ(Psctl({"get", "--scope=foo", "--name=v", "--shape=1"}).exit_code,
            0);
  CommandResult again = Psctl({"get", "--scope=foo", "--name=v", "--shape=1"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.out, "");
  EXPECT_EQ(
      again.err,
      "ALREADY_EXISTS: Variable foo/v already exists, disallowed. Did you "
      "mean to set reuse=True or reuse=tf.AUTO_REUSE in VarScope?\n");

  CommandResult missing =
      Psctl({"get", "--scope=foo", "--name=w", "--reuse=true"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err,
              StartsWith("NOT_FOUND: Variable foo/w does not exist"));

  CommandResult bad_shape = Psctl({"get", "--name=x", "--shape=2,x"});
  EXPECT_EQ(bad_shape.exit_code, 1);
  EXPECT_THAT(bad_shape.err,
              StartsWith("INVALID_ARGUMENT: Invalid shape '2,x'"));

  CommandResult usage = Psctl({"frobnicate"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_THAT(usage.err, HasSubstr("usage:"));
}

TEST(PsctlNoServerTest, UnreachableServerIsUnavailable) {
  CommandResult result = RunCommand(
      {PsctlBinary(), "--server=127.0.0.1:1", "--timeout_seconds=3", "list"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, StartsWith("UNAVAILABLE: "));
}

}  // namespace
}  // namespace paramserver
