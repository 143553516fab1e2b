#include "client/variable_scope.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/names.h"

namespace paramserver {

// TF's _VariableScopeStore: the innermost scope of one thread (`current`
// points at `top_level` or at the state of the innermost VariableScope) and
// how often this thread opened each full scope name. Only its own thread
// touches it, so it needs no lock.
struct ScopeStore {
  ScopeStore() = default;
  ScopeStore(const ScopeStore&) = delete;
  ScopeStore& operator=(const ScopeStore&) = delete;

  ScopeHandle top_level;
  ScopeHandle* current = &top_level;
  std::map<std::string, int, std::less<>> counts;

  // TF's open_variable_scope.
  void Open(const std::string& full_name) { ++counts[full_name]; }

  // TF's close_variable_subscopes: forgets every scope under `full_name`
  // (not `full_name` itself).
  void CloseSubscopes(absl::string_view full_name) {
    const std::string prefix = absl::StrCat(full_name, "/");
    auto it = counts.lower_bound(prefix);
    while (it != counts.end() && absl::StartsWith(it->first, prefix)) {
      it = counts.erase(it);
    }
  }

  int Count(absl::string_view full_name) const {
    auto it = counts.find(full_name);
    return it == counts.end() ? 0 : it->second;
  }
};

namespace {

// The calling thread's store: its own, unless a FreshScopeStore replaced it.
ScopeStore*& CurrentStoreSlot() {
  thread_local ScopeStore thread_store;
  thread_local ScopeStore* current = &thread_store;
  return current;
}

ScopeStore& CurrentStore() { return *CurrentStoreSlot(); }

// Python's `reuse or base.reuse`: a scope can switch reuse on (or to
// AUTO_REUSE), never back to creating.
ReuseMode ApplyReuse(ScopeReuse requested, ReuseMode base) {
  switch (requested) {
    case ScopeReuse::kReuse:
      return ReuseMode::kReuse;
    case ScopeReuse::kAutoReuse:
      return ReuseMode::kAutoReuse;
    case ScopeReuse::kInherit:
      break;
  }
  return base;
}

// A scope called `name` that starts from `base`'s settings and overrides
// whichever `options` sets.
ScopeHandle DeriveScope(std::string name, const ScopeHandle& base,
                        const ScopeOptions& options) {
  ScopeHandle scope;
  scope.name = std::move(name);
  scope.reuse = ApplyReuse(options.reuse, base.reuse);
  scope.initializer = options.initializer.value_or(base.initializer);
  scope.dtype = options.dtype.value_or(base.dtype);
  return scope;
}

// tf.variable_scope("name") inside the current scope.
ScopeHandle NestedScope(absl::string_view name, const ScopeOptions& options) {
  const ScopeHandle& current = *CurrentStore().current;
  return DeriveScope(JoinScope(current.name, name), current, options);
}

// TF's _get_unique_variable_scope: `prefix`, or `prefix_N` for the smallest
// N >= 1 this thread has not opened under the current scope.
std::string UniqueScopeName(absl::string_view prefix) {
  const ScopeStore& store = CurrentStore();
  const std::string full_name = JoinScope(store.current->name, prefix);
  if (store.Count(full_name) == 0) return std::string(prefix);
  int suffix = 1;
  while (store.Count(absl::StrCat(full_name, "_", suffix)) > 0) ++suffix;
  return absl::StrCat(prefix, "_", suffix);
}

// TF raises RuntimeError here; a destructor cannot report, and going on
// would leave the thread in the wrong scope.
[[noreturn]] void DieImproperNesting(absl::string_view detail) {
  std::fprintf(stderr, "Improper nesting of variable_scope: %.*s\n",
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace

VariableScope::VariableScope(absl::string_view name,
                             const ScopeOptions& options)
    : VariableScope(NestedScope(name, options), Entry::kNested) {}

VariableScope::VariableScope(const ScopeHandle& scope,
                             const ScopeOptions& options)
    : VariableScope(DeriveScope(scope.name, scope, options),
                    Entry::kReentered) {}

VariableScope VariableScope::WithDefaultName(
    absl::string_view default_name, const DefaultNameScopeOptions& options) {
  ScopeOptions scope_options;
  scope_options.initializer = options.initializer;
  scope_options.dtype = options.dtype;
  return VariableScope(UniqueScopeName(default_name), scope_options);
}

VariableScope::VariableScope(ScopeHandle state, Entry entry)
    : store_(&CurrentStore()),
      state_(std::move(state)),
      outer_(store_->current) {
  store_->Open(state_.name);
  // TF snapshots after counting the re-entered scope itself, so that count
  // survives leaving it while everything opened inside does not.
  if (entry == Entry::kReentered) counts_to_restore_ = store_->counts;
  store_->current = &state_;
}

VariableScope::~VariableScope() {
  if (&CurrentStore() != store_ || store_->current != &state_) {
    DieImproperNesting(absl::StrCat("scope \"", state_.name,
                                    "\" left while not the innermost scope "
                                    "of the thread that entered it"));
  }
  if (counts_to_restore_.has_value()) {
    store_->counts = std::move(*counts_to_restore_);
  } else {
    store_->CloseSubscopes(state_.name);
  }
  store_->current = outer_;
}

ScopeHandle CurrentScope() { return *CurrentStore().current; }

void ReuseVariables() { CurrentStore().current->reuse = ReuseMode::kReuse; }

VariableRequest ResolveRequest(absl::string_view name,
                               std::optional<TensorShape> shape,
                               const GetVariableOptions& options) {
  const ScopeHandle& scope = *CurrentStore().current;
  VariableRequest request;
  request.scope = scope.name;
  request.name = std::string(name);
  request.reuse = scope.reuse;
  request.shape = std::move(shape);
  request.dtype = options.dtype.value_or(scope.dtype);
  request.initializer = options.initializer.value_or(scope.initializer);
  request.trainable = options.trainable;
  return request;
}

FreshScopeStore::FreshScopeStore()
    : store_(std::make_unique<ScopeStore>()), previous_(CurrentStoreSlot()) {
  CurrentStoreSlot() = store_.get();
}

FreshScopeStore::~FreshScopeStore() {
  if (CurrentStoreSlot() != store_.get() ||
      store_->current != &store_->top_level) {
    DieImproperNesting(absl::StrCat(
        "FreshScopeStore destroyed while scope \"", store_->current->name,
        "\" is open, or not as the innermost store of its thread"));
  }
  CurrentStoreSlot() = previous_;
}

}  // namespace paramserver
