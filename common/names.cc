#include "common/names.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace paramserver {
namespace {

bool IsLeadingChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.';
}

bool IsFollowingChar(char c) {
  return IsLeadingChar(c) || c == '_' || c == '-' || c == '/' || c == '>';
}

constexpr char kRuleText[] =
    "it must match [A-Za-z0-9.][A-Za-z0-9_.\\-/>]* (TensorFlow's rule for "
    "op names, applied to the full name).";

absl::Status InvalidName(absl::string_view what, absl::string_view name,
                         absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("Invalid ", what, " '", name, "': ", why));
}

}  // namespace

absl::Status ValidateFullName(absl::string_view name, absl::string_view what) {
  if (name.empty()) return InvalidName(what, name, "it is empty.");
  if (name.size() > kMaxNameLength) {
    return InvalidName(
        what, name.substr(0, 64),
        absl::StrCat("it is ", name.size(), " bytes long; the limit is ",
                     kMaxNameLength, "."));
  }
  if (!IsLeadingChar(name[0]) ||
      !std::all_of(name.begin(), name.end(), IsFollowingChar)) {
    return InvalidName(what, name, kRuleText);
  }
  int components = 0;
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty()) {
      return InvalidName(what, name, "it has an empty path component.");
    }
    if (part == "." || part == "..") {
      return InvalidName(what, name,
                         "'.' and '..' are not allowed as path components.");
    }
    ++components;
  }
  if (components > kMaxNameComponents) {
    return InvalidName(
        what, name.substr(0, 64),
        absl::StrCat("it is nested ", components, " levels deep; the limit is ",
                     kMaxNameComponents, "."));
  }
  return absl::OkStatus();
}

absl::Status ValidateScope(absl::string_view scope) {
  if (scope.empty()) return absl::OkStatus();
  return ValidateFullName(scope, "scope");
}

absl::Status ValidateScopedName(absl::string_view scope,
                                absl::string_view name) {
  // "s" + "" would read as the full name "s/"; name the real mistake.
  if (name.empty()) return InvalidName("variable name", name, "it is empty.");
  return ValidateFullName(JoinScope(scope, name), "variable name");
}

std::string JoinScope(absl::string_view scope, absl::string_view name) {
  if (scope.empty()) return std::string(name);
  return absl::StrCat(scope, "/", name);
}

bool IsUnderPrefix(absl::string_view name, absl::string_view prefix) {
  if (prefix.empty()) return true;
  if (!absl::StartsWith(name, prefix)) return false;
  return name.size() == prefix.size() || name[prefix.size()] == '/';
}

}  // namespace paramserver
