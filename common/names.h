#ifndef PARAM_SERVER_COMMON_NAMES_H_
#define PARAM_SERVER_COMMON_NAMES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace paramserver {

// Longest full name accepted, in bytes, and deepest scope nesting. TensorFlow
// has neither limit; a server shared by many clients needs both.
inline constexpr size_t kMaxNameLength = 4096;
inline constexpr int kMaxNameComponents = 256;

// TensorFlow 1.15's rule for op names, [A-Za-z0-9.][A-Za-z0-9_.\-/>]*, which
// tf.get_variable applies to the full name "scope/name" (so "_x" is fine
// inside a scope, not at the top level), plus what a shared registry needs: no
// empty path components (no leading, trailing or doubled '/'), no "." or ".."
// components, and the limits above. `what` names the argument in the
// INVALID_ARGUMENT message ("variable name", "scope", ...).
absl::Status ValidateFullName(absl::string_view name, absl::string_view what);

// A scope or name prefix: "" (the top level), or a full name by the rule above.
absl::Status ValidateScope(absl::string_view scope);

// tf.get_variable(name) inside variable_scope(scope): checks the full name
// JoinScope(scope, name) once, so the two spellings of one variable (scope
// "s" with name "_x", or scope "" with name "s/_x") get one answer.
absl::Status ValidateScopedName(absl::string_view scope,
                                absl::string_view name);

// "scope/name", or just "name" at the top level.
std::string JoinScope(absl::string_view scope, absl::string_view name);

// True when `name` lies under `prefix` by whole path components: "foo" covers
// "foo" and "foo/v" but not "foo_1/v". The empty prefix covers everything.
bool IsUnderPrefix(absl::string_view name, absl::string_view prefix);

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_NAMES_H_
