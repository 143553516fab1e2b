// libFuzzer target: the tokens file (--tokens_file), parsed as the server
// parses it at start-up, then asked about calls.
//
// Input: the file's text, optionally followed by "<ASK>" and questions, one
// per line: "TOKEN ACTION NAME,NAME..." (ACTION a digit, 0-4). A parse may
// only fail with INVALID_ARGUMENT and a message that never holds a token;
// a question may only be answered OK, UNAUTHENTICATED or PERMISSION_DENIED.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/auth.h"

namespace {

size_t Occurrences(absl::string_view text, absl::string_view part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != absl::string_view::npos;
       at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paramserver;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<absl::string_view> parts =
      absl::StrSplit(input, absl::MaxSplits("<ASK>", 1));
  absl::StatusOr<TokenTable> table = TokenTable::Parse(parts[0]);
  if (!table.ok()) {
    if (!absl::IsInvalidArgument(table.status())) std::abort();
    return 0;
  }
  if (parts.size() < 2) return 0;
  for (absl::string_view line : absl::StrSplit(parts[1], '\n')) {
    const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    const absl::string_view token = fields[0];
    const int action =
        fields.size() > 1 && !fields[1].empty() ? fields[1][0] % 5 : 0;
    std::vector<std::string> names;
    if (fields.size() > 2) names = absl::StrSplit(fields[2], ',');
    absl::Status status =
        table->Authorize(token, static_cast<Action>(action), names);
    if (!status.ok() && !absl::IsUnauthenticated(status) &&
        !absl::IsPermissionDenied(status)) {
      std::abort();
    }
    // A refusal never repeats the token (it may sit in a log). Checked when
    // its text occurs nowhere else: not in the names asked for, and only
    // once in the file (as the token itself, not inside a prefix).
    bool elsewhere = Occurrences(parts[0], token) > 1;
    for (const std::string& name : names)
      elsewhere |= absl::StrContains(name, token);
    if (!status.ok() && token.size() >= 8 && !elsewhere &&
        absl::StrContains(status.message(), token)) {
      std::abort();
    }
  }
  return 0;
}
