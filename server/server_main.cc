// ps_server: the parameter server binary.
//
//   ps_server --port=0            # pick a free port; prints where it listens
//   ps_server --address=0.0.0.0 --port=2222 --max_total_bytes=8589934592
//
// Prints "ps_server listening on HOST:PORT" on stdout once it serves, and
// shuts down cleanly on SIGINT or SIGTERM: health turns NOT_SERVING, new
// calls are refused and calls in flight finish.

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "server/grpc_server.h"
#include "server/logging.h"

ABSL_FLAG(std::string, address, "127.0.0.1",
          "Address to listen on. 0.0.0.0 or :: listens on every interface.");
ABSL_FLAG(int, port, 2222, "Port to listen on; 0 picks a free one.");
ABSL_FLAG(uint64_t, max_variable_bytes, uint64_t{1} << 30,
          "Largest value one variable may have, in bytes.");
ABSL_FLAG(uint64_t, max_total_bytes, uint64_t{16} << 30,
          "Limit on the sum of all variables' values, in bytes.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error.");
ABSL_FLAG(double, shutdown_grace_seconds, 10,
          "On SIGINT/SIGTERM, how long calls in flight may take to finish.");

namespace paramserver {
namespace {

// Blocks SIGINT and SIGTERM in every thread (gRPC's included, which inherit
// the mask) so that only the sigwait below receives them.
sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int Run() {
  absl::StatusOr<LogLevel> level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    std::fprintf(stderr, "%s\n", level.status().ToString().c_str());
    return 2;
  }
  SetLogLevel(*level);
  const sigset_t signals = BlockTerminationSignals();

  ServerOptions options;
  options.address = absl::GetFlag(FLAGS_address);
  options.port = absl::GetFlag(FLAGS_port);
  options.store.max_variable_bytes = absl::GetFlag(FLAGS_max_variable_bytes);
  options.store.max_total_bytes = absl::GetFlag(FLAGS_max_total_bytes);
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
  if (!server.ok()) {
    Log(LogLevel::kError, "Cannot start: ", server.status().ToString());
    return 1;
  }
  std::printf("ps_server listening on %s\n", (*server)->target().c_str());
  std::fflush(stdout);
  Log(LogLevel::kInfo, "Serving on ", (*server)->target(),
      " (max_variable_bytes=", options.store.max_variable_bytes,
      ", max_total_bytes=", options.store.max_total_bytes, ")");

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  Log(LogLevel::kInfo, "Received ", strsignal(signal_number),
      "; finishing calls in flight");
  (*server)->Shutdown(
      absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  Log(LogLevel::kInfo, "Shut down cleanly with ",
      (*server)->store().num_variables(), " variables");
  return 0;
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The parameter server: tf.get_variable over gRPC.");
  absl::ParseCommandLine(argc, argv);
  return paramserver::Run();
}
