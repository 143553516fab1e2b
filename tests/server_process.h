#ifndef PARAM_SERVER_TESTS_SERVER_PROCESS_H_
#define PARAM_SERVER_TESTS_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paramserver {

// The real ps_server binary, started as a child process on a free loopback
// port (--port=0; the port is read from the line the server prints). The
// destructor sends SIGKILL if the process is still running.
class ServerProcess {
 public:
  // `extra_flags` are appended to "--port=0". Waits until the server prints
  // its address (up to 30 s).
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& extra_flags = {});
  ~ServerProcess();

  const std::string& target() const { return target_; }
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits for the process; returns its wait status.
  int StopWith(int signal);
  // Everything the server wrote to stderr so far (its log).
  std::string Log() const;

 private:
  ServerProcess(pid_t pid, std::string target, std::string log_path)
      : pid_(pid), target_(std::move(target)), log_path_(std::move(log_path)) {}

  pid_t pid_;
  const std::string target_;
  const std::string log_path_;
};

// Runs `argv` to completion, returning its exit code, stdout and stderr.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv);

// The number a program printed right after `label` on some line of `out`,
// or -1 when there is none.
double NumberAfter(const std::string& out, absl::string_view label);

// Stops process `pid` with SIGSTOP and waits until every one of its threads
// is stopped ("T" in /proc/PID/task/TID/stat): the signal is delivered
// asynchronously, and a thread still running could answer a call meant to
// find the process frozen. False after 5 s.
bool StopAndWait(pid_t pid);

// Paths of the project's binaries inside the test's runfiles.
std::string ServerBinary();
std::string PsctlBinary();

}  // namespace paramserver

#endif  // PARAM_SERVER_TESTS_SERVER_PROCESS_H_
