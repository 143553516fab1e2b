#include "server/variable_store.h"

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<VariableStore> NewStore(StoreOptions options = {}) {
  absl::StatusOr<std::unique_ptr<VariableStore>> store =
      VariableStore::Create(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

VariableRequest Request(std::string scope, std::string name, ReuseMode reuse,
                        std::optional<TensorShape> shape) {
  VariableRequest request;
  request.scope = std::move(scope);
  request.name = std::move(name);
  request.reuse = reuse;
  request.shape = std::move(shape);
  return request;
}

std::vector<float> Floats(const VariableSnapshot& snapshot) {
  std::vector<float> values(snapshot.value->size() / sizeof(float));
  std::memcpy(values.data(), snapshot.value->data(), snapshot.value->size());
  return values;
}

TEST(VariableStoreTest, CreateThenReuseReturnsTheSameVariable) {
  auto store = NewStore();
  auto created =
      store->GetVariable(Request("foo", "v", ReuseMode::kCreate, {{1}}));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->snapshot.info.name, "foo/v");
  EXPECT_EQ(created->snapshot.info.version, 1);
  EXPECT_EQ(created->snapshot.info.dtype, DType::kFloat);

  auto reused =
      store->GetVariable(Request("foo", "v", ReuseMode::kReuse, {{1}}));
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_FALSE(reused->created);
  EXPECT_EQ(Floats(reused->snapshot), Floats(created->snapshot));
  // The very same buffer: initialized once, shared.
  EXPECT_EQ(reused->snapshot.value, created->snapshot.value);
}

TEST(VariableStoreTest, CreateOfExistingNameIsAlreadyExistsWithTfWording) {
  auto store = NewStore();
  ASSERT_TRUE(
      store->GetVariable(Request("foo", "v", ReuseMode::kCreate, {{1}})).ok());
  auto again =
      store->GetVariable(Request("foo", "v", ReuseMode::kCreate, {{1}}));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().message(),
            "Variable foo/v already exists, disallowed. Did you mean to set "
            "reuse=True or reuse=tf.AUTO_REUSE in VarScope?");
}

TEST(VariableStoreTest, ReuseOfMissingNameIsNotFoundWithTfWording) {
  auto store = NewStore();
  auto missing =
      store->GetVariable(Request("foo", "v", ReuseMode::kReuse, {{1}}));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "Variable foo/v does not exist, or was not created with "
            "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in "
            "VarScope?");
  EXPECT_EQ(store->num_variables(), 0);
}

TEST(VariableStoreTest, AutoReuseCreatesOnceThenReuses) {
  auto store = NewStore();
  auto first =
      store->GetVariable(Request("", "w", ReuseMode::kAutoReuse, {{3}}));
  auto second =
      store->GetVariable(Request("", "w", ReuseMode::kAutoReuse, {{3}}));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(first->snapshot.info.name, "w");
}

TEST(VariableStoreTest, SharingWithAnotherShapeIsInvalidArgument) {
  auto store = NewStore();
  ASSERT_TRUE(
      store->GetVariable(Request("foo", "v", ReuseMode::kCreate, {{1}})).ok());
  auto wrong =
      store->GetVariable(Request("foo", "v", ReuseMode::kReuse, {{2}}));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong.status().message(),
            "Trying to share variable foo/v, but specified shape (2,) and "
            "found shape (1,).");
}

TEST(VariableStoreTest, SharingWithAnotherDtypeIsInvalidArgument) {
  auto store = NewStore();
  ASSERT_TRUE(
      store->GetVariable(Request("foo", "v", ReuseMode::kCreate, {{2, 3}}))
          .ok());
  VariableRequest request =
      Request("foo", "v", ReuseMode::kAutoReuse, {{2, 3}});
  request.dtype = DType::kDouble;
  auto wrong = store->GetVariable(request);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong.status().message(),
            "Trying to share variable foo/v, but specified dtype float64 and "
            "found dtype float32_ref.");
}

TEST(VariableStoreTest, ReuseWithoutShapeMatchesAnyShape) {
  auto store = NewStore();
  ASSERT_TRUE(
      store->GetVariable(Request("a", "v", ReuseMode::kCreate, {{4, 5}})).ok());
  auto reused =
      store->GetVariable(Request("a", "v", ReuseMode::kReuse, std::nullopt));
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_EQ(reused->snapshot.info.shape, (TensorShape{4, 5}));
}

TEST(VariableStoreTest, CreateWithoutShapeNeedsAConstant) {
  auto store = NewStore();
  auto unknown =
      store->GetVariable(Request("", "v", ReuseMode::kCreate, std::nullopt));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown.status().message(),
            "The initializer passed is not valid. It should be a callable with "
            "no arguments and the shape should not be provided or an instance "
            "of `tf.keras.initializers.*' and `shape` should be fully defined. "
            "(new variable v has no shape)");

  VariableRequest request = Request("", "c", ReuseMode::kCreate, std::nullopt);
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values = {1, 2, 3};
  auto inferred = store->GetVariable(request);
  ASSERT_TRUE(inferred.ok()) << inferred.status();
  EXPECT_EQ(inferred->snapshot.info.shape, (TensorShape{3}));
  EXPECT_THAT(Floats(inferred->snapshot), ElementsAre(1, 2, 3));
}

// TF's get_variable("v", initializer=0.1): a single value is a scalar.
TEST(VariableStoreTest, SingleConstantWithoutShapeIsAScalar) {
  auto store = NewStore();
  VariableRequest request = Request("", "s", ReuseMode::kCreate, std::nullopt);
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values = {0.5};
  auto scalar = store->GetVariable(request);
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_EQ(scalar->snapshot.info.shape, TensorShape{});
  EXPECT_THAT(Floats(scalar->snapshot), ElementsAre(0.5));

  // constant_initializer() without a value and without a shape: no shape.
  request = Request("", "none", ReuseMode::kCreate, std::nullopt);
  request.initializer.kind = InitializerKind::kConstant;
  EXPECT_EQ(store->GetVariable(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(VariableStoreTest, InitializerRunsOnceAtCreationOnly) {
  auto store = NewStore();
  VariableRequest request = Request("", "b", ReuseMode::kAutoReuse, {{2}});
  request.initializer.kind = InitializerKind::kOnes;
  ASSERT_TRUE(store->GetVariable(request).ok());
  // A later caller's initializer is ignored, as in TensorFlow.
  request.initializer.kind = InitializerKind::kZeros;
  auto reused = store->GetVariable(request);
  ASSERT_TRUE(reused.ok());
  EXPECT_THAT(Floats(reused->snapshot), ElementsAre(1, 1));
}

TEST(VariableStoreTest, DefaultInitializerIsZerosForIntegers) {
  auto store = NewStore();
  VariableRequest request =
      Request("", "step", ReuseMode::kCreate, TensorShape{});
  request.dtype = DType::kInt64;
  auto step = store->GetVariable(request);
  ASSERT_TRUE(step.ok()) << step.status();
  ASSERT_EQ(step->snapshot.value->size(), 8);
  int64_t value = -1;
  std::memcpy(&value, step->snapshot.value->data(), 8);
  EXPECT_EQ(value, 0);
}

TEST(VariableStoreTest, BadInitializerIsRejectedAndNothingIsCreated) {
  auto store = NewStore();
  VariableRequest request = Request("", "v", ReuseMode::kCreate, {{2, 2}});
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values = {1, 2, 3, 4, 5};  // The shape holds 4.
  auto status = store->GetVariable(request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(store->num_variables(), 0);
  EXPECT_EQ(store->total_bytes(), 0);
}

TEST(VariableStoreTest, InvalidNamesAreRejected) {
  auto store = NewStore();
  for (const char* name :
       {"", "_v", "a b", "a//b", "a/", "/a", "a/../b", "é"}) {
    auto status =
        store->GetVariable(Request("", name, ReuseMode::kAutoReuse, {{1}}))
            .status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
  }
  for (const char* scope : {"/", "a//b", "a/", "-x", "_x", "a/./b"}) {
    auto status =
        store->GetVariable(Request(scope, "v", ReuseMode::kAutoReuse, {{1}}))
            .status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << scope;
  }
  EXPECT_EQ(store->num_variables(), 0);
}

// TF checks the full name once: "_x" and "-y" are fine inside a scope, and
// the scope "s" with name "_x" is the very variable "" + "s/_x".
TEST(VariableStoreTest, NamesAreCheckedAsFullNames) {
  auto store = NewStore();
  for (const char* name : {"_x", "-y", "a>b"}) {
    auto created =
        store->GetVariable(Request("s", name, ReuseMode::kCreate, {{1}}));
    ASSERT_TRUE(created.ok()) << name << ": " << created.status();
    EXPECT_EQ(created->snapshot.info.name, std::string("s/") + name);
    auto same = store->GetVariable(
        Request("", std::string("s/") + name, ReuseMode::kReuse, {{1}}));
    ASSERT_TRUE(same.ok()) << name << ": " << same.status();
    EXPECT_FALSE(same->created);
  }
  auto top = store->GetVariable(Request("", "_x", ReuseMode::kCreate, {{1}}));
  EXPECT_EQ(top.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->num_variables(), 3);
}

TEST(VariableStoreTest, BadShapesAreRejected) {
  auto store = NewStore();
  auto negative =
      store->GetVariable(Request("", "v", ReuseMode::kCreate, {{2, -1}}));
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.status().message(), HasSubstr("must be >= 0"));
  auto overflow = store->GetVariable(Request(
      "", "v", ReuseMode::kCreate, {{int64_t{1} << 40, int64_t{1} << 40}}));
  EXPECT_EQ(overflow.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(overflow.status().message(), HasSubstr("overflows"));
  auto deep = store->GetVariable(
      Request("", "v", ReuseMode::kCreate, TensorShape(kMaxRank + 1, 1)));
  EXPECT_EQ(deep.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(VariableStoreTest, MemoryLimitsAreResourceExhausted) {
  StoreOptions options;
  options.max_variable_bytes = 4000;
  options.max_total_bytes = 6000;
  auto store = NewStore(options);
  auto too_big =
      store->GetVariable(Request("", "big", ReuseMode::kCreate, {{1001}}));
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(too_big.status().message(), HasSubstr("per-variable limit"));
  ASSERT_TRUE(
      store->GetVariable(Request("", "a", ReuseMode::kCreate, {{1000}})).ok());
  auto over_total =
      store->GetVariable(Request("", "b", ReuseMode::kCreate, {{1000}}));
  EXPECT_EQ(over_total.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(over_total.status().message(), HasSubstr("memory limit"));
  // Deleting frees the budget again.
  ASSERT_TRUE(store->DeleteVariable("a").ok());
  EXPECT_TRUE(
      store->GetVariable(Request("", "b", ReuseMode::kCreate, {{1000}})).ok());
}

TEST(VariableStoreTest, ListMatchesWholePathComponents) {
  auto store = NewStore();
  for (const char* name :
       {"foo/v", "foo/bar/w", "foo_1/v", "foo", "foobar/x", "z"}) {
    ASSERT_TRUE(
        store->GetVariable(Request("", name, ReuseMode::kCreate, {{1}})).ok());
  }
  auto listed = store->ListVariables("foo");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> names;
  for (const VariableInfo& info : *listed) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("foo", "foo/bar/w", "foo/v"));
  auto all = store->ListVariables("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 6);
  EXPECT_EQ(store->ListVariables("foo//").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(VariableStoreTest, DeleteVariableAndScope) {
  auto store = NewStore();
  for (const char* name : {"s/a", "s/t/b", "s_2/c", "d"}) {
    ASSERT_TRUE(
        store->GetVariable(Request("", name, ReuseMode::kCreate, {{2}})).ok());
  }
  EXPECT_EQ(store->DeleteVariable("nope").status().code(),
            absl::StatusCode::kNotFound);
  auto one = store->DeleteVariable("d");
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(*one, ElementsAre("d"));
  auto scope = store->DeleteScope("s");
  ASSERT_TRUE(scope.ok());
  EXPECT_THAT(*scope, ElementsAre("s/a", "s/t/b"));
  EXPECT_EQ(store->num_variables(), 1);
  EXPECT_EQ(store->total_bytes(), 2 * sizeof(float));
  auto none = store->DeleteScope("absent");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // A deleted name can be created afresh.
  auto recreated =
      store->GetVariable(Request("s", "a", ReuseMode::kCreate, {{2}}));
  ASSERT_TRUE(recreated.ok());
  EXPECT_TRUE(recreated->created);
}

TEST(VariableStoreTest, ReadVariable) {
  auto store = NewStore();
  VariableRequest request = Request("x", "v", ReuseMode::kCreate, {{2}});
  request.initializer.kind = InitializerKind::kConstant;
  request.initializer.values = {7};
  ASSERT_TRUE(store->GetVariable(request).ok());
  auto read = store->ReadVariable("x/v");
  ASSERT_TRUE(read.ok());
  EXPECT_THAT(Floats(*read), ElementsAre(7, 7));
  EXPECT_EQ(store->ReadVariable("x/w").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store->ReadVariable("x//w").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(VariableStoreTest, RacingCreatorsExactlyOneSucceeds) {
  auto store = NewStore();
  constexpr int kThreads = 16;
  std::atomic<int> successes{0}, already_exists{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto result = store->GetVariable(
          Request("race", "v", ReuseMode::kCreate, {{1000}}));
      if (result.ok()) ++successes;
      if (result.status().code() == absl::StatusCode::kAlreadyExists)
        ++already_exists;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(successes, 1);
  EXPECT_EQ(already_exists, kThreads - 1);
}

TEST(VariableStoreTest, RacingAutoReuseInitializesOnceAndAllSeeOneValue) {
  auto store = NewStore();
  constexpr int kThreads = 16;
  std::atomic<int> created{0};
  std::vector<std::shared_ptr<const TensorBuffer>> values(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      // A large random variable: initialization takes a while, so callers
      // really do arrive while it is pending.
      auto result = store->GetVariable(
          Request("race", "w", ReuseMode::kAutoReuse, {{1 << 20}}));
      ASSERT_TRUE(result.ok()) << result.status();
      if (result->created) ++created;
      values[i] = result->snapshot.value;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(created, 1);
  for (const auto& value : values) EXPECT_EQ(value, values[0]);
}

}  // namespace
}  // namespace paramserver
