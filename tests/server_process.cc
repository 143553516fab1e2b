#include "tests/server_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

extern char** environ;

namespace paramserver {
namespace {

std::string Runfile(absl::string_view relative) {
  // Bazel runs tests from the workspace's runfiles directory.
  return std::string(relative);
}

std::string TempPath(absl::string_view stem) {
  const char* dir = std::getenv("TEST_TMPDIR");
  static std::atomic<int> counter{0};  // Tests run commands from many threads.
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", stem, "_", getpid(),
                      "_", counter++);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Spawns `argv` with stdout and stderr sent to the given files.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv,
                            const std::string& out_path,
                            const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc =
      posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("posix_spawn ", argv[0], ": ", rc));
  }
  return pid;
}

}  // namespace

std::string ServerBinary() { return Runfile("server/ps_server"); }
std::string PsctlBinary() { return Runfile("client/psctl"); }

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& extra_flags) {
  std::vector<std::string> argv = {ServerBinary(), "--port=0"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  const std::string out_path = TempPath("server_stdout");
  const std::string log_path = TempPath("server_stderr");
  absl::StatusOr<pid_t> pid = Spawn(argv, out_path, log_path);
  if (!pid.ok()) return pid.status();
  const std::string kBanner = "ps_server listening on ";
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    const std::string out = ReadFile(out_path);
    const size_t at = out.find(kBanner);
    const size_t end = out.find('\n', at);
    if (at != std::string::npos && end != std::string::npos) {
      std::string target =
          out.substr(at + kBanner.size(), end - at - kBanner.size());
      return std::unique_ptr<ServerProcess>(
          new ServerProcess(*pid, std::move(target), log_path));
    }
    int status;
    if (waitpid(*pid, &status, WNOHANG) == *pid) {
      return absl::InternalError(
          absl::StrCat("ps_server exited early: ", ReadFile(log_path)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(*pid, SIGKILL);
  waitpid(*pid, nullptr, 0);
  return absl::DeadlineExceededError("ps_server did not print its address");
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) StopWith(SIGKILL);
}

int ServerProcess::StopWith(int signal) {
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string ServerProcess::Log() const { return ReadFile(log_path_); }

CommandResult RunCommand(const std::vector<std::string>& argv) {
  CommandResult result;
  const std::string out_path = TempPath("cmd_stdout");
  const std::string err_path = TempPath("cmd_stderr");
  absl::StatusOr<pid_t> pid = Spawn(argv, out_path, err_path);
  if (!pid.ok()) {
    result.err = pid.status().ToString();
    return result;
  }
  int status = 0;
  waitpid(*pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

double NumberAfter(const std::string& out, absl::string_view label) {
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    const size_t at = line.find(label);
    if (at == absl::string_view::npos) continue;
    // The number is what follows the label up to the first character that
    // cannot be part of one ("0.51 (predicting ..." reads 0.51).
    absl::string_view rest = line.substr(at + label.size());
    rest = rest.substr(0, rest.find_first_not_of("0123456789.+-eE"));
    double value;
    if (absl::SimpleAtod(rest, &value)) return value;
  }
  return -1;
}

namespace {

// True when every thread of `pid` is stopped.
bool AllThreadsStopped(pid_t pid) {
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return false;
  bool all = true;
  int seen = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream stat(absl::StrCat(tasks, "/", entry->d_name, "/stat"));
    std::string line;
    std::getline(stat, line);
    const size_t paren = line.rfind(')');
    if (paren == std::string::npos || paren + 2 >= line.size()) continue;
    ++seen;
    if (line[paren + 2] != 'T' && line[paren + 2] != 't') all = false;
  }
  closedir(dir);
  return all && seen > 0;
}

}  // namespace

bool StopAndWait(pid_t pid) {
  if (kill(pid, SIGSTOP) != 0) return false;
  for (int attempt = 0; attempt < 500; ++attempt) {
    if (AllThreadsStopped(pid)) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

}  // namespace paramserver
