#ifndef PARAM_SERVER_SERVER_LOGGING_H_
#define PARAM_SERVER_SERVER_LOGGING_H_

// A minimal leveled logger for the server binary: one line per event on
// stderr, "I1125 17:35:11.123456 <message>", the glog format operators know.
// (Debian's abseil predates absl/log.) Thread-safe.

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace paramserver {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning", "error"; INVALID_ARGUMENT otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, absl::string_view message);

template <typename... Args>
void Log(LogLevel level, const Args&... args) {
  if (LogEnabled(level)) LogLine(level, absl::StrCat(args...));
}

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_LOGGING_H_
