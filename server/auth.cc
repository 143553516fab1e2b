#include "server/auth.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/names.h"

namespace paramserver {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReader:
      return "reader";
    case Role::kWriter:
      return "writer";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::string_view ActionName(Action action) {
  switch (action) {
    case Action::kRead:
      return "read";
    case Action::kCreate:
      return "create";
    case Action::kWrite:
      return "push";
    case Action::kDelete:
      return "delete";
    case Action::kSave:
      return "save";
  }
  return "unknown";
}

Role RequiredRole(Action action) {
  switch (action) {
    case Action::kRead:
      return Role::kReader;
    case Action::kCreate:
    case Action::kWrite:
      return Role::kWriter;
    case Action::kDelete:
    case Action::kSave:
      return Role::kAdmin;
  }
  return Role::kAdmin;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Every byte of `a` is visited whatever `b` holds; a length mismatch is
  // folded into the result rather than returned early.
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    const unsigned char other = i < b.size() ? b[i] : 0;
    diff = diff | (static_cast<unsigned char>(a[i]) ^ other);
  }
  return diff == 0;
}

namespace {

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  if (name == "reader") return Role::kReader;
  if (name == "writer") return Role::kWriter;
  if (name == "admin") return Role::kAdmin;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown role '", name, "' (expected reader, writer or admin)"));
}

absl::StatusOr<std::vector<std::string>> ParsePrefixes(
    absl::string_view field) {
  std::vector<std::string> prefixes;
  for (absl::string_view prefix : absl::StrSplit(field, ',')) {
    if (absl::Status s = ValidateFullName(prefix, "scope prefix"); !s.ok()) {
      return s;
    }
    prefixes.emplace_back(prefix);
  }
  return prefixes;
}

}  // namespace

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text) {
  TokenTable table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    absl::Status status;
    Entry entry;
    if (fields.size() < 2 || fields.size() > 3) {
      status =
          absl::InvalidArgumentError("expected TOKEN ROLE [PREFIX,PREFIX...]");
    } else if (absl::StatusOr<Role> role = ParseRole(fields[1]); !role.ok()) {
      status = role.status();
    } else {
      entry.token = std::string(fields[0]);
      entry.role = *role;
      if (fields.size() == 3) {
        absl::StatusOr<std::vector<std::string>> prefixes =
            ParsePrefixes(fields[2]);
        status = prefixes.status();
        if (prefixes.ok()) entry.prefixes = *std::move(prefixes);
      }
    }
    if (status.ok() && table.Find(entry.token) != nullptr) {
      status = absl::InvalidArgumentError("duplicate token");
    }
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Tokens line ", line_number, ": ", status.message()));
    }
    table.entries_.push_back(std::move(entry));
  }
  return table;
}

const TokenTable::Entry* TokenTable::Find(absl::string_view token) const {
  // No early exit: every entry is compared, so timing does not tell which
  // (or whether any) matched.
  const Entry* found = nullptr;
  for (const Entry& entry : entries_) {
    if (ConstantTimeEquals(token, entry.token)) found = &entry;
  }
  return found;
}

absl::Status TokenTable::Authorize(absl::string_view token, Action action,
                                   absl::Span<const std::string> names) const {
  if (token.empty()) {
    return absl::UnauthenticatedError(
        "No token: send 'authorization: Bearer <token>' metadata.");
  }
  const Entry* entry = Find(token);
  if (entry == nullptr) return absl::UnauthenticatedError("Unknown token.");
  const Role needed = RequiredRole(action);
  if (entry->role < needed) {
    return absl::PermissionDeniedError(absl::StrCat(
        ActionName(action), " needs role ", RoleName(needed),
        " or higher; this token has role ", RoleName(entry->role), "."));
  }
  if (entry->prefixes.empty()) return absl::OkStatus();
  for (const std::string& name : names) {
    bool covered = false;
    for (const std::string& prefix : entry->prefixes) {
      covered |= !name.empty() && IsUnderPrefix(name, prefix);
    }
    if (!covered) {
      const std::string what = name.empty() ? std::string("the whole store")
                                            : absl::StrCat("'", name, "'");
      return absl::PermissionDeniedError(
          absl::StrCat(ActionName(action), " of ", what,
                       " needs a token for its scope; this ",
                       RoleName(entry->role), " token is limited to prefixes ",
                       absl::StrJoin(entry->prefixes, ","), "."));
    }
  }
  return absl::OkStatus();
}

}  // namespace paramserver
