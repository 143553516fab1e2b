#ifndef PARAM_SERVER_SERVER_NAMES_H_
#define PARAM_SERVER_SERVER_NAMES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace paramserver {

// Longest full name accepted, in bytes, and deepest scope nesting. TensorFlow
// has neither limit; a server shared by many clients needs both.
inline constexpr size_t kMaxNameLength = 4096;
inline constexpr int kMaxNameComponents = 256;

// TensorFlow's rule for scope and variable names,
// [A-Za-z0-9.][A-Za-z0-9_.\-/]*, plus what a shared registry needs: no empty
// path components (no leading, trailing or doubled '/'), no "." or ".."
// components, and the limits above. `what` names the argument in the
// INVALID_ARGUMENT message ("variable name", "scope", ...).
absl::Status ValidateFullName(absl::string_view name, absl::string_view what);

// The same rule for a scope, which may also be "" (the top level).
absl::Status ValidateScope(absl::string_view scope);

// "scope/name", or just "name" at the top level.
std::string JoinScope(absl::string_view scope, absl::string_view name);

// True when `name` lies under `prefix` by whole path components: "foo" covers
// "foo" and "foo/v" but not "foo_1/v". The empty prefix covers everything.
bool IsUnderPrefix(absl::string_view name, absl::string_view prefix);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_NAMES_H_
