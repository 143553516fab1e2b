#ifndef PARAM_SERVER_CLIENT_VARIABLE_SCOPE_H_
#define PARAM_SERVER_CLIENT_VARIABLE_SCOPE_H_

// TensorFlow 1.x's variable scopes on the client, without any RPC. This
//
//   with tf.variable_scope("foo"):
//     v = tf.get_variable("v", [1])
//     tf.get_variable_scope().reuse_variables()
//     v1 = tf.get_variable("v", [1])
//
// reads, with GetVariable from client/get_variable.h:
//
//   {
//     VariableScope foo("foo");
//     absl::StatusOr<FetchedVariable> v = GetVariable(client, "v", {{1}});
//     ReuseVariables();
//     absl::StatusOr<FetchedVariable> v1 = GetVariable(client, "v", {{1}});
//   }
//
// Scopes only decide what a request says (scope name, reuse mode, default
// dtype and initializer); the server, shared by every thread and worker, owns
// the variables and applies the reuse rules.
//
// Threads: every thread has its own scope stack and its own default_name
// counts, and starts at the top level, as in TensorFlow. Nothing here locks,
// and no function touches another thread's state. To continue a scope on
// another thread, copy its ScopeHandle there and re-enter it.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/dtype.h"
#include "common/initializer_spec.h"
#include "common/tensor_shape.h"
#include "common/variable_spec.h"

namespace paramserver {

struct ScopeStore;  // One thread's scope stack and default_name counts.

// What TensorFlow's VariableScope object carries that matters to the server.
// A plain value: copying one captures the scope as it is at that moment (TF
// shares one mutable object instead). Safe to copy to other threads.
struct ScopeHandle {
  std::string name;                      // Absolute; "" at the top level.
  ReuseMode reuse = ReuseMode::kCreate;  // kCreate is TF's reuse=False.
  InitializerSpec initializer;           // kDefault is TF's initializer=None.
  DType dtype = DType::kFloat;
};

// variable_scope's `reuse` argument. A scope can turn reuse on, never off:
// TF treats reuse=False exactly like reuse=None.
enum class ScopeReuse {
  kInherit,    // reuse=None or False: keep the enclosing (or re-entered) mode.
  kReuse,      // reuse=True.
  kAutoReuse,  // reuse=tf.AUTO_REUSE.
};

// The other arguments of tf.variable_scope that reach the server. Unset
// fields are inherited.
struct ScopeOptions {
  ScopeReuse reuse = ScopeReuse::kInherit;
  std::optional<InitializerSpec> initializer;
  std::optional<DType> dtype;
};

// ScopeOptions without `reuse`: TF rejects reuse with a default_name, so it
// cannot be written here. Such a scope inherits its parent's mode.
struct DefaultNameScopeOptions {
  std::optional<InitializerSpec> initializer;
  std::optional<DType> dtype;
};

// `with tf.variable_scope(...):` as an RAII object. Construction enters the
// scope on the calling thread; destruction leaves it.
//
// Thread safety: a VariableScope belongs to the thread that entered it. It
// must be left in the reverse order of entering, on that thread, which block
// scoping does by itself. Anything else
// (heap-allocated scopes freed out of order, a scope handed to another
// thread) is a programming error: the destructor aborts with "Improper
// nesting of variable_scope", where TensorFlow raises RuntimeError.
//
// Names are not checked here: the server checks the full name "scope/name"
// of each request once, by TensorFlow's op-name rule (so "_x" is fine inside
// a scope, not at the top level), and answers INVALID_ARGUMENT. TF checks the
// scope's own name on entry too; here a bad scope shows on its first request.
class VariableScope {
 public:
  // tf.variable_scope("name"): nested under the current scope, so its name is
  // "<current>/name" ("name" at the top level). Reuse, initializer and dtype
  // are the current scope's unless `options` sets them.
  explicit VariableScope(absl::string_view name,
                         const ScopeOptions& options = {});

  // tf.variable_scope(captured_scope): re-enters `scope` by its absolute name,
  // not nested under the current scope, with the reuse, initializer and dtype
  // it captured unless `options` sets them. Reuse is not inherited from the
  // scope it is entered in. As in TF, leaving it puts every default_name
  // count back as it was just after entering.
  explicit VariableScope(const ScopeHandle& scope,
                         const ScopeOptions& options = {});

  // tf.variable_scope(None, default_name=default_name): nested like a named
  // scope, but called `default_name`, or `default_name_N` with the smallest
  // N >= 1 whose full name this thread has not opened yet in the enclosing
  // scope ("layer", "layer_1", ...). Leaving a scope forgets the counts of
  // the scopes opened inside it.
  [[nodiscard]] static VariableScope WithDefaultName(
      absl::string_view default_name,
      const DefaultNameScopeOptions& options = {});

  ~VariableScope();

  VariableScope(const VariableScope&) = delete;
  VariableScope& operator=(const VariableScope&) = delete;

  // The scope as it is now, for re-entering it later or on another thread.
  // Only the entering thread may call this and ReuseVariables().
  ScopeHandle handle() const { return state_; }

  // scope.reuse_variables(): from now on this scope reuses. Scopes already
  // opened inside it keep the mode they started with.
  void ReuseVariables() { state_.reuse = ReuseMode::kReuse; }

 private:
  using ScopeCounts = std::map<std::string, int, std::less<>>;
  enum class Entry { kNested, kReentered };

  VariableScope(ScopeHandle state, Entry entry);

  ScopeStore* const store_;  // The entering thread's store.
  ScopeHandle state_;
  ScopeHandle* const outer_;  // The current scope before this one.
  // Set when re-entered by handle: the counts to restore on leaving.
  std::optional<ScopeCounts> counts_to_restore_;
};

// tf.get_variable_scope(): the calling thread's innermost scope, or the top
// level (name "", not reusing, default initializer, float32).
ScopeHandle CurrentScope();

// tf.get_variable_scope().reuse_variables(): the calling thread's innermost
// scope reuses from now on. At the top level this lasts for the thread's
// lifetime (or the FreshScopeStore's), as it lasts for the graph in TF.
void ReuseVariables();

// tf.get_variable's arguments besides name and shape. Unset ones come from
// the current scope; set ones win.
struct GetVariableOptions {
  std::optional<DType> dtype;
  std::optional<InitializerSpec> initializer;
  bool trainable = true;
};

// The request tf.get_variable(name, shape, ...) sends from the calling
// thread's current scope: that scope's name and reuse mode, and the dtype and
// initializer of `options`, else of the scope. Pure: neither validates nor
// changes anything.
VariableRequest ResolveRequest(absl::string_view name,
                               std::optional<TensorShape> shape,
                               const GetVariableOptions& options = {});

// Gives the calling thread a new, empty scope store while it lives, as
// `with tf.Graph().as_default():` does in TF: the thread is back at the top
// level and no default_name has been used. The previous store, with its open
// scopes, returns on destruction. Same nesting rules as VariableScope: scopes
// entered while it lives must be left before it dies, on the same thread.
class FreshScopeStore {
 public:
  FreshScopeStore();
  ~FreshScopeStore();

  FreshScopeStore(const FreshScopeStore&) = delete;
  FreshScopeStore& operator=(const FreshScopeStore&) = delete;

 private:
  const std::unique_ptr<ScopeStore> store_;
  ScopeStore* const previous_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_VARIABLE_SCOPE_H_
