#include "client/variable_scope.h"

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// Most tests port one test of TensorFlow 1.15's
// python/kernel_tests/variable_scope_test.py, named in the comment above it.
// TF checks `tf.get_variable(...).name`; here the same call only resolves the
// request it would send, so `FullName("w")` stands for
// `tf.get_variable("w", []).name` without the ":0". Whether the server then
// creates, reuses or refuses is the server's business, tested end to end.

namespace paramserver {
namespace {

using ::testing::ElementsAre;

// Each test starts at the top level with no default_name used, as each TF
// test starts with a new graph.
class VariableScopeTest : public ::testing::Test {
 private:
  FreshScopeStore store_;
};

ScopeOptions Reuse(ScopeReuse reuse) {
  ScopeOptions options;
  options.reuse = reuse;
  return options;
}

InitializerSpec Constant(double value) {
  InitializerSpec spec;
  spec.kind = InitializerKind::kConstant;
  spec.values = {value};
  return spec;
}

// The full name tf.get_variable(name, []) would get here.
std::string FullName(absl::string_view name) {
  const VariableRequest request = ResolveRequest(name, TensorShape{});
  if (request.scope.empty()) return request.name;
  return absl::StrCat(request.scope, "/", request.name);
}

ReuseMode ReuseHere() { return ResolveRequest("w", TensorShape{}).reuse; }

// The example this module exists for (seed text; TF's variable_scope
// docstring, "Sharing a variable by capturing a scope and setting reuse").
TEST_F(VariableScopeTest, ReuseVariablesShareWithinScope) {
  VariableRequest v;
  VariableRequest v1;
  {
    VariableScope foo("foo");
    v = ResolveRequest("v", {{1}});
    ReuseVariables();
    v1 = ResolveRequest("v", {{1}});
  }
  EXPECT_EQ(v.scope, "foo");
  EXPECT_EQ(v.name, "v");
  EXPECT_EQ(v.reuse, ReuseMode::kCreate);
  EXPECT_EQ(v.shape, TensorShape{1});
  EXPECT_EQ(v1.scope, "foo");
  EXPECT_EQ(v1.name, "v");
  EXPECT_EQ(v1.reuse, ReuseMode::kReuse);
  EXPECT_EQ(v1.shape, TensorShape{1});
  EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
}

// The seed's second case: with tf.variable_scope("foo", reuse=True).
TEST_F(VariableScopeTest, ReenterByNameWithReuse) {
  {
    VariableScope foo("foo");
    EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
  }
  VariableScope foo("foo", Reuse(ScopeReuse::kReuse));
  EXPECT_EQ(FullName("v"), "foo/v");
  EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
}

// testVarScope (name scopes dropped: the server sees only variable names).
TEST_F(VariableScopeTest, VarScope) {
  ScopeHandle tower;
  {
    VariableScope tower4("tower4");
    tower = tower4.handle();
    EXPECT_EQ(tower.name, "tower4");
  }
  {
    VariableScope tower5("tower5");
    VariableScope bar("bar");
    EXPECT_EQ(bar.handle().name, "tower5/bar");
  }
  VariableScope tower6("tower6");
  VariableScope tower_shared(tower, Reuse(ScopeReuse::kReuse));
  EXPECT_EQ(tower_shared.handle().name, "tower4");
  EXPECT_EQ(CurrentScope().name, "tower4");
}

// testGetVariableScope, minus set_initializer (not part of this API).
TEST_F(VariableScopeTest, GetVariableScope) {
  {
    VariableScope bar("bar");
    EXPECT_EQ(CurrentScope().initializer.kind, InitializerKind::kDefault);
    ReuseVariables();
    EXPECT_EQ(CurrentScope().reuse, ReuseMode::kReuse);
    EXPECT_EQ(ResolveRequest("w", {{1}}).reuse, ReuseMode::kReuse);
  }
  EXPECT_EQ(CurrentScope().name, "");
  EXPECT_EQ(CurrentScope().reuse, ReuseMode::kCreate);
}

// testVarScopeInitializer.
TEST_F(VariableScopeTest, VarScopeInitializer) {
  ScopeOptions with_init;
  with_init.initializer = Constant(0.3);
  VariableScope tower("tower0");
  {
    VariableScope foo("foo", with_init);
    const VariableRequest v = ResolveRequest("v", TensorShape{});
    EXPECT_EQ(v.scope, "tower0/foo");
    EXPECT_EQ(v.initializer.kind, InitializerKind::kConstant);
    EXPECT_THAT(v.initializer.values, ElementsAre(0.3));
    VariableScope nested("nested");  // Inherited by nested scopes.
    EXPECT_THAT(ResolveRequest("v", TensorShape{}).initializer.values,
                ElementsAre(0.3));
  }
  EXPECT_EQ(CurrentScope().initializer.kind, InitializerKind::kDefault);
  VariableScope again(tower.handle(), with_init);
  const VariableRequest w = ResolveRequest("w", TensorShape{});
  EXPECT_EQ(w.scope, "tower0");
  EXPECT_EQ(w.initializer.kind, InitializerKind::kConstant);
  EXPECT_THAT(w.initializer.values, ElementsAre(0.3));
}

// testVarScopeDType, with float64 for float16 (not a server dtype).
TEST_F(VariableScopeTest, VarScopeDType) {
  ScopeOptions with_dtype;
  with_dtype.dtype = DType::kDouble;
  VariableScope tower("tower2");
  EXPECT_EQ(ResolveRequest("u", TensorShape{}).dtype, DType::kFloat);
  {
    VariableScope foo("foo", with_dtype);
    EXPECT_EQ(ResolveRequest("v", TensorShape{}).dtype, DType::kDouble);
    VariableScope nested("nested");  // Inherited by nested scopes.
    EXPECT_EQ(ResolveRequest("v", TensorShape{}).dtype, DType::kDouble);
  }
  VariableScope again(tower.handle(), with_dtype);
  EXPECT_EQ(ResolveRequest("w", TensorShape{}).dtype, DType::kDouble);
}

// testInitializeFromValue's "Constant initializer can be passed through
// scopes", and get_variable's own arguments winning over the scope's.
TEST_F(VariableScopeTest, ExplicitArgumentsOverrideScopeDefaults) {
  ScopeOptions defaults;
  defaults.initializer = Constant(0.1);
  defaults.dtype = DType::kDouble;
  VariableScope foo("foo", defaults);

  const VariableRequest from_scope = ResolveRequest("v", std::nullopt);
  EXPECT_FALSE(from_scope.shape.has_value());
  EXPECT_THAT(from_scope.initializer.values, ElementsAre(0.1));
  EXPECT_EQ(from_scope.dtype, DType::kDouble);
  EXPECT_TRUE(from_scope.trainable);

  GetVariableOptions explicit_args;
  explicit_args.dtype = DType::kInt32;
  explicit_args.initializer = Constant(4);
  explicit_args.trainable = false;
  const VariableRequest t = ResolveRequest("t", {{2, 3}}, explicit_args);
  EXPECT_EQ(t.scope, "foo");
  EXPECT_EQ(t.shape, (TensorShape{2, 3}));
  EXPECT_EQ(t.dtype, DType::kInt32);
  EXPECT_THAT(t.initializer.values, ElementsAre(4));
  EXPECT_FALSE(t.trainable);
}

// testVarScopeObjectReuse.
TEST_F(VariableScopeTest, VarScopeObjectReuse) {
  ScopeHandle vs;
  {
    VariableScope jump("jump", Reuse(ScopeReuse::kReuse));
    vs = jump.handle();
  }
  {
    VariableScope jump(vs);
    EXPECT_EQ(jump.handle().reuse, ReuseMode::kReuse);
  }
  {
    VariableScope jump_reuse(vs, Reuse(ScopeReuse::kReuse));
    EXPECT_EQ(jump_reuse.handle().reuse, ReuseMode::kReuse);
  }
  {
    // reuse=False: "Inherited, cannot be undone."
    VariableScope jump_no_reuse(vs, Reuse(ScopeReuse::kInherit));
    EXPECT_EQ(jump_no_reuse.handle().reuse, ReuseMode::kReuse);
  }
  {
    VariableScope jump("jump", Reuse(ScopeReuse::kInherit));
    vs = jump.handle();
  }
  {
    VariableScope jump(vs);
    EXPECT_EQ(jump.handle().reuse, ReuseMode::kCreate);
  }
  {
    VariableScope jump_reuse(vs, Reuse(ScopeReuse::kReuse));
    EXPECT_EQ(jump_reuse.handle().reuse, ReuseMode::kReuse);
  }
  {
    VariableScope jump_no_reuse(vs, Reuse(ScopeReuse::kInherit));
    EXPECT_EQ(jump_no_reuse.handle().reuse, ReuseMode::kCreate);
  }
}

// The variable_scope docstring: "if we open a reusing scope, then all its
// sub-scopes become reusing as well", and reuse=True at the top level.
TEST_F(VariableScopeTest, ReuseIsInheritedAndCannotBeUndone) {
  VariableScope root("root");
  {
    VariableScope foo("foo");
    EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
  }
  {
    VariableScope foo("foo", Reuse(ScopeReuse::kReuse));
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
    VariableScope bar("bar", Reuse(ScopeReuse::kInherit));  // reuse=False.
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
    VariableScope baz = VariableScope::WithDefaultName("baz");
    EXPECT_EQ(FullName("w"), "root/foo/bar/baz/w");
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  }
  EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
}

// tf.get_variable_scope().reuse_variables() at the top level lasts as long
// as the thread's store, as it lasts for the graph in TF.
TEST_F(VariableScopeTest, TopLevelReuseLastsForTheStore) {
  {
    FreshScopeStore graph;
    ReuseVariables();
    EXPECT_EQ(FullName("w"), "w");
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
    VariableScope foo("foo");
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  }
  EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
}

// testVarScopeGetOrCreateReuse, plus AUTO_REUSE reaching sub-scopes.
TEST_F(VariableScopeTest, VarScopeGetOrCreateReuse) {
  for (int call = 0; call < 3; ++call) {
    VariableScope bar("testVarScopeGetOrCreateReuse_bar",
                      Reuse(ScopeReuse::kAutoReuse));
    const VariableRequest var = ResolveRequest("var", TensorShape{});
    EXPECT_EQ(var.scope, "testVarScopeGetOrCreateReuse_bar");
    EXPECT_EQ(var.reuse, ReuseMode::kAutoReuse);
    VariableScope inner("inner", Reuse(ScopeReuse::kInherit));
    EXPECT_EQ(ReuseHere(), ReuseMode::kAutoReuse);
  }
}

// _pure_variable_scope computes `reuse or parent.reuse`: a child's True or
// AUTO_REUSE replaces the parent's mode, whichever it was.
TEST_F(VariableScopeTest, ExplicitReuseReplacesInheritedMode) {
  {
    VariableScope parent("auto", Reuse(ScopeReuse::kAutoReuse));
    VariableScope child("strict", Reuse(ScopeReuse::kReuse));
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  }
  VariableScope parent("strict", Reuse(ScopeReuse::kReuse));
  VariableScope child("auto", Reuse(ScopeReuse::kAutoReuse));
  EXPECT_EQ(ReuseHere(), ReuseMode::kAutoReuse);
}

// testVarOpScope.
TEST_F(VariableScopeTest, VarOpScope) {
  {
    VariableScope tower("tower");
    EXPECT_EQ(FullName("w"), "tower/w");
  }
  {
    // Same name, not reusing: the server refuses to create "tower/w" again.
    VariableScope tower("tower");
    EXPECT_EQ(FullName("w"), "tower/w");
    EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
  }
  {
    VariableScope scope = VariableScope::WithDefaultName("default");
    EXPECT_EQ(FullName("w"), "default/w");
  }
  {
    VariableScope scope = VariableScope::WithDefaultName("default");
    EXPECT_EQ(FullName("w"), "default_1/w");
  }
}

// testVarOpScopeUniqueNamesInterleavedSubstringScopes.
TEST_F(VariableScopeTest, VarOpScopeUniqueNamesInterleavedSubstringScopes) {
  const auto layer_in = [](absl::string_view outer) {
    VariableScope scope = VariableScope::WithDefaultName(outer);
    VariableScope layer = VariableScope::WithDefaultName("layer");
    return FullName("w");
  };
  EXPECT_EQ(layer_in("defaultScope1"), "defaultScope1/layer/w");
  EXPECT_EQ(layer_in("defaultScope1"), "defaultScope1_1/layer/w");
  EXPECT_EQ(layer_in("defaultScope"), "defaultScope/layer/w");
  EXPECT_EQ(layer_in("defaultScope1"), "defaultScope1_2/layer/w");
}

// testVarOpScopeUniqueNamesWithJump.
TEST_F(VariableScopeTest, VarOpScopeUniqueNamesWithJump) {
  VariableScope scope_default("default");
  {
    VariableScope layer = VariableScope::WithDefaultName("layer");
    EXPECT_EQ(FullName("w"), "default/layer/w");
  }
  {
    VariableScope layer = VariableScope::WithDefaultName("layer");
    EXPECT_EQ(FullName("w"), "default/layer_1/w");
  }
  { VariableScope jump(scope_default.handle()); }
  // No matter the jump in the middle, unique numbering continues.
  VariableScope layer = VariableScope::WithDefaultName("layer");
  EXPECT_EQ(FullName("w"), "default/layer_2/w");
}

// _VariableScopeStore.close_variable_subscopes: leaving a scope forgets the
// default names used inside it, so entering it again starts over.
TEST_F(VariableScopeTest, LeavingScopeForgetsItsDefaultNames) {
  {
    VariableScope outer("outer");
    VariableScope layer = VariableScope::WithDefaultName("layer");
    EXPECT_EQ(FullName("w"), "outer/layer/w");
  }
  VariableScope outer("outer");
  VariableScope layer = VariableScope::WithDefaultName("layer");
  EXPECT_EQ(FullName("w"), "outer/layer/w");
}

// _pure_variable_scope.__exit__ for a scope object: leaving a re-entered
// scope restores every count as it was on entering, even those of scopes
// outside it; leaving a named scope only forgets the scopes under it.
TEST_F(VariableScopeTest, LeavingReenteredScopeRestoresCounts) {
  ScopeHandle elsewhere;
  elsewhere.name = "elsewhere";
  ScopeHandle outer;
  outer.name = "outer";
  {
    FreshScopeStore graph;
    {
      VariableScope again(outer);
      VariableScope jump(elsewhere);
    }
    VariableScope fallback = VariableScope::WithDefaultName("elsewhere");
    EXPECT_EQ(CurrentScope().name, "elsewhere");
  }
  FreshScopeStore graph;
  {
    VariableScope named("outer");
    VariableScope jump(elsewhere);
  }
  VariableScope fallback = VariableScope::WithDefaultName("elsewhere");
  EXPECT_EQ(CurrentScope().name, "elsewhere_1");
}

// testVarOpScopeReuse.
TEST_F(VariableScopeTest, VarOpScopeReuse) {
  ScopeHandle outer;
  {
    VariableScope scope("outer");
    outer = scope.handle();
    {
      VariableScope tower("tower");
      EXPECT_EQ(FullName("w"), "outer/tower/w");
    }
    VariableScope fallback = VariableScope::WithDefaultName("default");
    EXPECT_EQ(FullName("w"), "outer/default/w");
  }
  VariableScope scope(outer, Reuse(ScopeReuse::kReuse));
  {
    VariableScope tower("tower");
    EXPECT_EQ(FullName("w"), "outer/tower/w");
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  }
  VariableScope fallback = VariableScope::WithDefaultName("default");
  EXPECT_EQ(FullName("w"), "outer/default/w");
  EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
}

// testVarScopeGetVar (the shape and dtype mismatches are the server's to
// refuse; here they only have to reach it).
TEST_F(VariableScopeTest, VarScopeGetVar) {
  VariableScope root("root");
  ScopeHandle tower_a;
  {
    VariableScope scope("towerA");
    tower_a = scope.handle();
    EXPECT_EQ(FullName("v"), "root/towerA/v");
  }
  {
    VariableScope scope(tower_a, Reuse(ScopeReuse::kReuse));
    EXPECT_EQ(FullName("v"), "root/towerA/v");
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  }
  {
    VariableScope scope("towerB");
    EXPECT_EQ(FullName("v"), "root/towerB/v");
  }
  {
    VariableScope scope("towerA");  // Creating again: ALREADY_EXISTS.
    EXPECT_EQ(FullName("v"), "root/towerA/v");
    EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
  }
  {
    VariableScope scope("towerA", Reuse(ScopeReuse::kReuse));
    EXPECT_EQ(FullName("v"), "root/towerA/v");
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  }
  {
    VariableScope foo("foo");
    VariableScope bar("bar");
    EXPECT_EQ(FullName("v"), "root/foo/bar/v");
    VariableScope jump(tower_a, Reuse(ScopeReuse::kReuse));
    EXPECT_EQ(FullName("v"), "root/towerA/v");
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  }
  {
    VariableScope jump(tower_a, Reuse(ScopeReuse::kReuse));
    VariableScope baz("baz");  // Reusing a missing variable: NOT_FOUND.
    EXPECT_EQ(FullName("v"), "root/towerA/baz/v");
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  }
  VariableScope jump(tower_a, Reuse(ScopeReuse::kReuse));
  EXPECT_EQ(ResolveRequest("v", {{2}}).shape, TensorShape{2});
  GetVariableOptions int32;
  int32.dtype = DType::kInt32;
  EXPECT_EQ(ResolveRequest("v", {{1}}, int32).dtype, DType::kInt32);
}

// testVarScopeOuterScope.
TEST_F(VariableScopeTest, VarScopeOuterScope) {
  ScopeHandle outer;
  {
    VariableScope scope("outer");
    outer = scope.handle();
  }
  {
    VariableScope scope(outer);
    EXPECT_EQ(FullName("w"), "outer/w");
    VariableScope nested("default");
    EXPECT_EQ(FullName("w"), "outer/default/w");
    EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
  }
  VariableScope scope(outer, Reuse(ScopeReuse::kReuse));
  EXPECT_EQ(FullName("w"), "outer/w");
  EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  VariableScope nested("default", Reuse(ScopeReuse::kReuse));
  EXPECT_EQ(FullName("w"), "outer/default/w");
  EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
}

// testVarScopeNestedOuterScope.
TEST_F(VariableScopeTest, VarScopeNestedOuterScope) {
  VariableScope outer("outer");
  {
    VariableScope again(outer.handle());  // Not "outer/outer".
    EXPECT_EQ(FullName("w"), "outer/w");
  }
  {
    VariableScope nested("default");
    EXPECT_EQ(FullName("w"), "outer/default/w");
  }
  {
    VariableScope again(outer.handle(), Reuse(ScopeReuse::kReuse));
    EXPECT_EQ(FullName("w"), "outer/w");
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  }
  VariableScope nested("default", Reuse(ScopeReuse::kReuse));
  EXPECT_EQ(FullName("w"), "outer/default/w");
  EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
}

// testVarOpScopeReuseParam.
TEST_F(VariableScopeTest, VarOpScopeReuseParam) {
  ScopeHandle outer;
  {
    VariableScope scope("outer");
    outer = scope.handle();
    {
      VariableScope tower("tower");
      EXPECT_EQ(FullName("w"), "outer/tower/w");
    }
    VariableScope fallback = VariableScope::WithDefaultName("default");
    EXPECT_EQ(FullName("w"), "outer/default/w");
  }
  VariableScope scope(outer);
  {
    VariableScope tower("tower", Reuse(ScopeReuse::kReuse));
    EXPECT_EQ(FullName("w"), "outer/tower/w");
    EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  }
  EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
  scope.ReuseVariables();
  VariableScope fallback = VariableScope::WithDefaultName("default");
  EXPECT_EQ(FullName("w"), "outer/default/w");
  EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
}

// testVarOpScopeOuterScope (variable_scope(outer, "default"): the default
// name is unused when a scope is given).
TEST_F(VariableScopeTest, VarOpScopeOuterScope) {
  ScopeHandle outer;
  {
    VariableScope scope("outer");
    outer = scope.handle();
  }
  {
    VariableScope scope(outer);
    EXPECT_EQ(FullName("w"), "outer/w");
    VariableScope fallback = VariableScope::WithDefaultName("default");
    EXPECT_EQ(FullName("w"), "outer/default/w");
  }
  VariableScope scope(outer, Reuse(ScopeReuse::kReuse));
  EXPECT_EQ(FullName("w"), "outer/w");
  scope.ReuseVariables();
  VariableScope fallback = VariableScope::WithDefaultName("default");
  EXPECT_EQ(FullName("w"), "outer/default/w");
  EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
}

// testVarOpScopeNestedOuterScope.
TEST_F(VariableScopeTest, VarOpScopeNestedOuterScope) {
  ScopeHandle outer;
  {
    VariableScope scope("outer");
    outer = scope.handle();
    {
      VariableScope again(outer);
      EXPECT_EQ(FullName("w"), "outer/w");
    }
    VariableScope fallback = VariableScope::WithDefaultName("default");
    EXPECT_EQ(FullName("w"), "outer/default/w");
  }
  VariableScope again(outer, Reuse(ScopeReuse::kReuse));
  EXPECT_EQ(FullName("w"), "outer/w");
  VariableScope fallback = VariableScope::WithDefaultName("default");
  EXPECT_EQ(FullName("w"), "outer/default/w");
  EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
}

// Inside the scope it re-enters, a handle sees the default names already
// used there (the snapshot is taken on entry).
TEST_F(VariableScopeTest, ReenterOpenScopeKeepsItsDefaultNames) {
  VariableScope outer("outer");
  { VariableScope fallback = VariableScope::WithDefaultName("default"); }
  VariableScope again(outer.handle());
  VariableScope fallback = VariableScope::WithDefaultName("default");
  EXPECT_EQ(FullName("w"), "outer/default_1/w");
}

// _pure_variable_scope with a scope object: the re-entered scope keeps its
// own mode, not the enclosing scope's, unless reuse is passed again.
TEST_F(VariableScopeTest, ReenteredScopeKeepsItsOwnReuse) {
  ScopeHandle creating;
  {
    VariableScope scope("creating");
    creating = scope.handle();
  }
  VariableScope reusing("reusing", Reuse(ScopeReuse::kReuse));
  {
    VariableScope again(creating);
    EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
  }
  VariableScope again(creating, Reuse(ScopeReuse::kAutoReuse));
  EXPECT_EQ(ReuseHere(), ReuseMode::kAutoReuse);
}

// testReenterRootScopeWhenAuxiliaryNameScopeIsFalse.
TEST_F(VariableScopeTest, ReenterRootScope) {
  const ScopeHandle root_scope = CurrentScope();
  {
    VariableScope scope(root_scope);
    EXPECT_EQ(FullName("w"), "w");
  }
  VariableScope outer("outer");
  VariableScope inner(root_scope);
  EXPECT_EQ(FullName("w1"), "w1");
}

// testReuseScopeWithoutNameScopeCollision (GitHub issue #13429).
TEST_F(VariableScopeTest, ReuseScopeWithoutNameScopeCollision) {
  ScopeHandle inner;
  {
    VariableScope outer("outer");
    VariableScope scope("inner");
    inner = scope.handle();
  }
  {
    VariableScope scope(inner);
    EXPECT_EQ(FullName("w"), "outer/inner/w");
  }
  VariableScope another("another");
  VariableScope scope(inner);
  EXPECT_EQ(FullName("w1"), "outer/inner/w1");
}

// A handle is a snapshot: later changes to the scope do not reach it.
TEST_F(VariableScopeTest, HandleCapturesScopeWhenTaken) {
  VariableScope foo("foo");
  const ScopeHandle before = foo.handle();
  foo.ReuseVariables();
  EXPECT_EQ(before.reuse, ReuseMode::kCreate);
  EXPECT_EQ(foo.handle().reuse, ReuseMode::kReuse);
}

// A FreshScopeStore hides the open scopes and brings them back.
TEST_F(VariableScopeTest, FreshScopeStoreRestoresPreviousStore) {
  VariableScope outer("outer", Reuse(ScopeReuse::kReuse));
  { VariableScope layer = VariableScope::WithDefaultName("layer"); }
  {
    FreshScopeStore graph;
    EXPECT_EQ(FullName("w"), "w");
    EXPECT_EQ(ReuseHere(), ReuseMode::kCreate);
    VariableScope again("outer");
    VariableScope layer = VariableScope::WithDefaultName("layer");
    EXPECT_EQ(FullName("w"), "outer/layer/w");
  }
  EXPECT_EQ(ReuseHere(), ReuseMode::kReuse);
  VariableScope layer = VariableScope::WithDefaultName("layer");
  EXPECT_EQ(FullName("w"), "outer/layer_1/w");
}

using VariableScopeDeathTest = VariableScopeTest;

// testVarScopeNestingError: TF raises RuntimeError, this aborts.
TEST_F(VariableScopeDeathTest, VarScopeNestingError) {
  EXPECT_DEATH(
      {
        VariableScope aa("aa");
        auto bb = std::make_unique<VariableScope>("bb");
        VariableScope cc("cc");
        bb.reset();
      },
      "Improper nesting of variable_scope");
}

// VariableScopeMultithreadedTest.testTwoThreadsNestedScopeEntry: both
// threads are inside "foo" at once, and each sees only its own "foo". (That
// the second creation of "foo/v" fails is the shared server's doing.)
TEST(VariableScopeMultithreadedTest, TwoThreadsNestedScopeEntry) {
  std::string names[2];
  std::string layers[2];
  absl::Notification paused[2];
  absl::Notification resume;
  const auto thread_fn = [&](int i) {
    VariableScope foo("foo");
    names[i] = FullName("v");
    VariableScope layer = VariableScope::WithDefaultName("layer");
    layers[i] = CurrentScope().name;
    paused[i].Notify();
    resume.WaitForNotification();
  };
  std::thread first(thread_fn, 0);
  paused[0].WaitForNotification();
  std::thread second(thread_fn, 1);
  paused[1].WaitForNotification();
  resume.Notify();
  first.join();
  second.join();
  EXPECT_EQ(names[0], "foo/v");
  EXPECT_EQ(names[1], "foo/v");  // Not "foo/foo/v".
  EXPECT_EQ(layers[0], "foo/layer");
  EXPECT_EQ(layers[1], "foo/layer");  // Counts are per thread too.
}

// VariableScopeMultithreadedTest.testReenterMainScope.
TEST(VariableScopeMultithreadedTest, ReenterMainScope) {
  FreshScopeStore graph;
  std::string in_main_scope;
  std::string outside_main_scope;
  ReuseMode reuse_outside = ReuseMode::kAutoReuse;
  {
    VariableScope main_thread_scope("main", Reuse(ScopeReuse::kReuse));
    const ScopeHandle captured = main_thread_scope.handle();
    std::thread thread([&] {
      {
        VariableScope main_scope(captured);
        VariableScope foo("foo");
        in_main_scope = FullName("v");
      }
      VariableScope bar("bar");
      outside_main_scope = FullName("v");
      reuse_outside = ReuseHere();
    });
    thread.join();
  }
  EXPECT_EQ(in_main_scope, "main/foo/v");
  EXPECT_EQ(outside_main_scope, "bar/v");
  EXPECT_EQ(reuse_outside, ReuseMode::kCreate);
}

// TF's docstring: "each thread starts with an empty variable scope".
TEST(VariableScopeMultithreadedTest, NewThreadStartsAtTopLevel) {
  FreshScopeStore graph;
  ReuseVariables();
  VariableScope main_scope("main");
  { VariableScope layer = VariableScope::WithDefaultName("layer"); }
  ScopeHandle seen;
  std::string layer_name;
  std::thread thread([&] {
    seen = CurrentScope();
    VariableScope layer = VariableScope::WithDefaultName("layer");
    layer_name = CurrentScope().name;
  });
  thread.join();
  EXPECT_EQ(seen.name, "");
  EXPECT_EQ(seen.reuse, ReuseMode::kCreate);
  EXPECT_EQ(layer_name, "layer");
  EXPECT_EQ(CurrentScope().name, "main");
  EXPECT_EQ(CurrentScope().reuse, ReuseMode::kReuse);
}

}  // namespace
}  // namespace paramserver
