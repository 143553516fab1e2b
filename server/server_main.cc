// ps_server: the parameter server binary.
//
//   ps_server --port=0            # pick a free port; prints where it listens
//   ps_server --address=0.0.0.0 --port=2222 --max_total_bytes=8589934592
//
// Prints "ps_server listening on HOST:PORT" on stdout once it serves, and
// shuts down cleanly on SIGINT or SIGTERM: health turns NOT_SERVING, new
// calls are refused and calls in flight finish. With --data_dir every
// acknowledged change is logged before it is acknowledged, checkpoints are
// written periodically, on request (psctl save) and at shutdown, and start-up
// restores the newest good checkpoint plus the log after it.
//
// Security (README.md, "Security"): --tls_cert/--tls_key turn on TLS,
// --tls_client_ca adds mutual TLS, --tokens_file requires a bearer token on
// every call. Plaintext on a non-loopback address is refused unless
// --insecure is given.

#include <malloc.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "server/auth.h"
#include "server/grpc_server.h"
#include "server/http_endpoint.h"
#include "server/logging.h"
#include "server/monitoring.h"
#include "server/pem_check.h"

ABSL_FLAG(std::string, address, "127.0.0.1",
          "Address to listen on. 0.0.0.0 or :: listens on every interface.");
ABSL_FLAG(int, port, 2222, "Port to listen on; 0 picks a free one.");
ABSL_FLAG(uint64_t, max_variable_bytes, uint64_t{1} << 30,
          "Largest value one variable may have, in bytes.");
ABSL_FLAG(uint64_t, max_total_bytes, uint64_t{16} << 30,
          "Limit on the sum of all variables' values, in bytes.");
ABSL_FLAG(uint64_t, push_ids_to_remember, uint64_t{1} << 16,
          "How many push ids (of applied pushes) the server remembers, so "
          "that a repeat of one is answered without applying it again; the "
          "oldest are forgotten first (and past 64 MiB of ids and answers).");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error.");
ABSL_FLAG(double, shutdown_grace_seconds, 10,
          "On SIGINT/SIGTERM, how long calls in flight may take to finish.");
ABSL_FLAG(std::string, job, "",
          "Name of the job this server is a shard of (letters, digits, '.', "
          "'_', '-'); clients that name a job are refused by another's.");
ABSL_FLAG(int, shard_index, 0,
          "This server's index among its job's shards (in a Kubernetes "
          "StatefulSet, the pod's ordinal). Clients list the job's servers "
          "in this order and are refused when they list this one elsewhere.");
ABSL_FLAG(int, shard_count, 1, "How many shards the job has.");
ABSL_FLAG(bool, initialize_data_dir, false,
          "Allow a --data_dir that holds no data (missing or empty): begin "
          "this shard with no variables, as on its first start. Without it "
          "such a directory is refused, because a shard that served before "
          "has then lost its data (a volume not mounted, a directory "
          "removed). --data_dir records --job, --shard_index and "
          "--shard_count on first start and refuses others later.");
ABSL_FLAG(std::string, data_dir, "",
          "Directory for checkpoints and the write-ahead log. Empty keeps the "
          "variables in memory only.");
ABSL_FLAG(
    std::string, wal_fsync, "everysec",
    "When the write-ahead log is fsynced, as Redis's appendfsync: "
    "always, everysec or checkpoint (see README for what each can lose).");
ABSL_FLAG(
    double, checkpoint_interval_seconds, 300,
    "Write a checkpoint this often (0: only on request and at shutdown).");
ABSL_FLAG(int, checkpoints_to_keep, 3, "Checkpoints kept on disk.");
ABSL_FLAG(bool, skip_wal_corruption, false,
          "Start even when the write-ahead log is corrupt in the middle or "
          "does not fit the checkpoint, replaying up to the damage (the rest "
          "is set aside as wal-N.log.corrupt-OFFSET).");
ABSL_FLAG(bool, ignore_corrupt_checkpoints, false,
          "When every checkpoint is damaged, start from what the write-ahead "
          "log holds: variables created or changed since the oldest kept "
          "checkpoint (others are lost, and named in the log).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the server; with --tls_key turns on TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(int, tls_reload_seconds, 0,
          "Re-read --tls_cert, --tls_key and --tls_client_ca every this many "
          "seconds, for certificate rotation without a restart (0: never).");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates; when set, clients must present a certificate "
          "signed by one of them (mutual TLS). Needs --tls_cert.");
ABSL_FLAG(std::string, tokens_file, "",
          "File of accepted tokens, one per line: TOKEN ROLE [PREFIX,...] "
          "(ROLE: reader, writer or admin). Empty: no authentication.");
ABSL_FLAG(bool, insecure, false,
          "Allow plaintext (no TLS) on a non-loopback --address.");
ABSL_FLAG(double, stream_idle_seconds, 60,
          "Cancel a PushChunks or PullChunks stream that moves no chunk for "
          "this long, releasing what it holds (0: never).");
ABSL_FLAG(int64_t, stream_min_bytes_per_second, int64_t{1} << 20,
          "Also cancel a PushChunks or PullChunks stream that, past its first "
          "--stream_idle_seconds, has moved fewer bytes per second of its "
          "life than this, so a client trickling bytes cannot hold a push's "
          "reservation (0: no floor).");
ABSL_FLAG(int64_t, push_buffer_pool_bytes,
          paramserver::kDefaultPushBufferPoolBytes,
          "Memory kept from one streamed push for the next to gather its "
          "values in, so that steady pushes fault no fresh pages in; held "
          "by the process outside --max_total_bytes (0: keep none).");
ABSL_FLAG(int, table_stripes, 32,
          "Lock stripes per dynamic table, a power of two in [1, 32]: calls "
          "whose ids fall in different stripes run in parallel, and a full "
          "table evicts the least recently used row of the new id's stripe "
          "(1: exact LRU over the whole table, one call at a time).");
ABSL_FLAG(int, http_port, -1,
          "Serve /metrics (Prometheus), /healthz and /readyz over HTTP on "
          "this port; 0 picks a free one, -1 (the default) serves no HTTP.");
ABSL_FLAG(std::string, http_address, "127.0.0.1",
          "Address of --http_port. With --tls_cert it serves HTTPS with the "
          "same certificate; plaintext HTTP on an address other than "
          "loopback needs --insecure (as does HTTPS there under "
          "--tls_client_ca without --tokens_file).");
ABSL_FLAG(std::string, http_allowed_hosts, "",
          "Comma-separated host names the HTTP port answers to besides IP "
          "addresses and localhost (e.g. ps-0.ps.default.svc): requests "
          "naming another Host are refused, so a web page cannot reach the "
          "port by rebinding its own name (DNS rebinding). The probes "
          "answer any Host.");
ABSL_FLAG(bool, reflection, false,
          "Serve gRPC server reflection (for grpcurl without the .proto). It "
          "answers without a token and hands out the whole schema.");

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

absl::StatusOr<std::optional<DurabilityOptions>> DurabilityFromFlags() {
  if (absl::GetFlag(FLAGS_data_dir).empty()) return std::nullopt;
  DurabilityOptions options;
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  absl::StatusOr<FsyncPolicy> policy =
      ParseFsyncPolicy(absl::GetFlag(FLAGS_wal_fsync));
  if (!policy.ok()) return policy.status();
  options.fsync_policy = *policy;
  options.checkpoints_to_keep = absl::GetFlag(FLAGS_checkpoints_to_keep);
  options.skip_wal_corruption = absl::GetFlag(FLAGS_skip_wal_corruption);
  options.ignore_corrupt_checkpoints =
      absl::GetFlag(FLAGS_ignore_corrupt_checkpoints);
  return options;
}

absl::StatusOr<std::optional<ServerTlsOptions>> TlsFromFlags() {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  const std::string client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  if (cert.empty() && key.empty() && client_ca.empty()) return std::nullopt;
  if (cert.empty() || key.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both --tls_cert and --tls_key (--tls_client_ca adds "
        "mutual TLS to them).");
  }
  ServerTlsOptions tls;
  tls.reload_seconds = absl::GetFlag(FLAGS_tls_reload_seconds);
  if (tls.reload_seconds < 0) {
    return absl::InvalidArgumentError("--tls_reload_seconds must be >= 0.");
  }
  tls.cert_chain_path = cert;
  tls.private_key_path = key;
  tls.client_ca_path = client_ca;
  for (auto [path, pem] :
       {std::pair{&cert, &tls.cert_chain}, std::pair{&key, &tls.private_key},
        std::pair{&client_ca, &tls.client_ca}}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> contents = ReadFile(*path);
    if (!contents.ok()) return contents.status();
    *pem = *std::move(contents);
  }
  // gRPC would take mismatched or unreadable files and fail every handshake
  // later (with --tls_reload_seconds it only logs them); an empty CA file
  // would quietly turn mutual TLS off.
  if (absl::Status s = CheckKeyMatchesCertificate(tls.private_key, key,
                                                  tls.cert_chain, cert);
      !s.ok()) {
    return s;
  }
  if (!client_ca.empty()) {
    if (absl::Status s = CheckCertificates(tls.client_ca, client_ca); !s.ok())
      return s;
  }
  return tls;
}

absl::StatusOr<std::optional<TokenTable>> TokensFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_tokens_file);
  if (path.empty()) return std::nullopt;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<TokenTable> tokens = TokenTable::Parse(*text);
  if (!tokens.ok()) return tokens.status();
  if (tokens->size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no tokens: every call would be refused."));
  }
  return *std::move(tokens);
}

// This binary's own flags and their values, by name, for the operator
// page (paths of key and token files, never their contents).
std::vector<std::pair<std::string, std::string>> ServerFlags() {
  std::vector<std::pair<std::string, std::string>> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::EndsWith(flag->Filename(), "server/server_main.cc")) continue;
    flags.emplace_back(std::string(name), flag->CurrentValue());
  }
  std::sort(flags.begin(), flags.end());
  return flags;
}

// TLS, tokens and the plaintext policy from the flags.
absl::Status SecurityFromFlags(ServerOptions& options) {
  absl::StatusOr<std::optional<ServerTlsOptions>> tls = TlsFromFlags();
  if (!tls.ok()) return tls.status();
  options.tls = *std::move(tls);
  absl::StatusOr<std::optional<TokenTable>> tokens = TokensFromFlags();
  if (!tokens.ok()) return tokens.status();
  options.tokens = *std::move(tokens);
  options.allow_insecure_remote = absl::GetFlag(FLAGS_insecure);
  return absl::OkStatus();
}

std::string SecuritySummary(const ServerOptions& options) {
  std::string tls = "plaintext";
  if (options.tls.has_value()) {
    tls = options.tls->client_ca.empty() ? "TLS" : "mutual TLS";
    if (options.tls->reload_seconds > 0) {
      absl::StrAppend(&tls, " (certificates re-read every ",
                      options.tls->reload_seconds, " s)");
    }
  }
  const std::string auth = options.tokens.has_value()
                               ? absl::StrCat(options.tokens->size(), " tokens")
                               : std::string("no authentication");
  return absl::StrCat(tls, ", ", auth);
}

void CheckpointAndLog(GrpcServer& server, absl::string_view why) {
  absl::StatusOr<int64_t> sequence = server.Checkpoint();
  if (!sequence.ok()) {
    Log(LogLevel::kError, "Checkpoint (", why,
        ") failed: ", sequence.status().ToString());
  }
}

// Waits for SIGINT or SIGTERM, writing periodic checkpoints meanwhile.
int WaitForTermination(GrpcServer& server, const sigset_t& signals,
                       bool durable) {
  const double interval = absl::GetFlag(FLAGS_checkpoint_interval_seconds);
  while (true) {
    if (!durable || interval <= 0) {
      int signal_number = 0;
      sigwait(&signals, &signal_number);
      return signal_number;
    }
    timespec timeout = absl::ToTimespec(absl::Seconds(interval));
    const int signal_number = sigtimedwait(&signals, nullptr, &timeout);
    if (signal_number > 0) return signal_number;
    CheckpointAndLog(server, "periodic");
  }
}

int Run() {
  absl::StatusOr<LogLevel> level =
      ParseLogLevel(absl::GetFlag(FLAGS_log_level));
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
  options.store.push_ids_to_remember =
      absl::GetFlag(FLAGS_push_ids_to_remember);
  options.store.table_stripes = absl::GetFlag(FLAGS_table_stripes);
  if (options.store.table_stripes < 1 || options.store.table_stripes > 32 ||
      (options.store.table_stripes & (options.store.table_stripes - 1)) != 0) {
    Log(LogLevel::kError,
        "Cannot start: --table_stripes must be a power of two in [1, 32], "
        "got ",
        options.store.table_stripes, ".");
    return 2;
  }
  const double idle_seconds = absl::GetFlag(FLAGS_stream_idle_seconds);
  if (idle_seconds < 0) {
    Log(LogLevel::kError, "Cannot start: --stream_idle_seconds must be >= 0.");
    return 2;
  }
  options.stream_idle_limit = idle_seconds == 0 ? absl::InfiniteDuration()
                                                : absl::Seconds(idle_seconds);
  options.stream_min_bytes_per_second =
      absl::GetFlag(FLAGS_stream_min_bytes_per_second);
  if (options.stream_min_bytes_per_second < 0) {
    Log(LogLevel::kError,
        "Cannot start: --stream_min_bytes_per_second must be >= 0.");
    return 2;
  }
  options.push_buffer_pool_bytes = absl::GetFlag(FLAGS_push_buffer_pool_bytes);
  if (options.push_buffer_pool_bytes < 0) {
    Log(LogLevel::kError,
        "Cannot start: --push_buffer_pool_bytes must be >= 0.");
    return 2;
  }
  options.reflection = absl::GetFlag(FLAGS_reflection);
  options.place = {absl::GetFlag(FLAGS_job), absl::GetFlag(FLAGS_shard_index),
                   absl::GetFlag(FLAGS_shard_count)};
  if (absl::Status s = ValidateShardPlace(options.place); !s.ok()) {
    Log(LogLevel::kError, "Cannot start: ", s.message(),
        " (--job, --shard_index, --shard_count)");
    return 2;
  }
  options.initialize_data_dir = absl::GetFlag(FLAGS_initialize_data_dir);
  absl::StatusOr<std::optional<DurabilityOptions>> durability =
      DurabilityFromFlags();
  if (!durability.ok()) {
    Log(LogLevel::kError, "Cannot start: ", durability.status().ToString());
    return 2;
  }
  options.durability = *durability;
  if (absl::Status s = SecurityFromFlags(options); !s.ok()) {
    Log(LogLevel::kError, "Cannot start: ", s.ToString());
    return 2;
  }
  // Before the store is restored, so that /readyz answers 503 meanwhile.
  Monitoring monitoring(options.tokens.has_value() ? &*options.tokens : nullptr,
                        absl::StrSplit(absl::GetFlag(FLAGS_http_allowed_hosts),
                                       ',', absl::SkipEmpty()));
  std::unique_ptr<HttpEndpoint> http;
  if (const int http_port = absl::GetFlag(FLAGS_http_port); http_port >= 0) {
    HttpEndpointOptions http_options;
    http_options.address = absl::GetFlag(FLAGS_http_address);
    http_options.port = http_port;
    // With TLS on, the HTTP port serves HTTPS with the same certificate
    // (read at start; --tls_reload_seconds does not reach it). It asks for
    // no client certificate, so under mutual TLS a remote address needs
    // tokens instead.
    if (options.tls.has_value()) {
      http_options.tls_cert_chain = options.tls->cert_chain;
      http_options.tls_private_key = options.tls->private_key;
    }
    const bool guarded =
        options.tls.has_value() &&
        (options.tls->client_ca.empty() || options.tokens.has_value());
    if (!IsLoopbackAddress(http_options.address) && !guarded &&
        !options.allow_insecure_remote) {
      Log(LogLevel::kError,
          "Cannot start: --http_address=", http_options.address,
          options.tls.has_value()
              ? " is not a loopback address, and the HTTP port asks for no "
                "client certificate: add --tokens_file, or pass --insecure "
                "to serve it there anyway."
              : " is not a loopback address, and HTTP is plaintext without "
                "--tls_cert: pass --insecure to serve it there anyway.");
      return 2;
    }
    absl::StatusOr<std::unique_ptr<HttpEndpoint>> started = HttpEndpoint::Start(
        http_options, [&monitoring](const HttpRequest& request) {
          return monitoring.Handle(request);
        });
    if (!started.ok()) {
      Log(LogLevel::kError, "Cannot start: ", started.status().ToString());
      return absl::IsInvalidArgument(started.status()) ? 2 : 1;
    }
    http = *std::move(started);
    Log(LogLevel::kInfo, "HTTP on ", http->target(),
        http->tls() ? " over TLS" : "",
        " (/ for the operator page; /metrics, /healthz, /readyz)");
    options.rpc_metrics = &monitoring.rpc_metrics();
  }
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(options);
  if (!server.ok()) {
    Log(LogLevel::kError, "Cannot start: ", server.status().ToString());
    return 1;
  }
  std::printf("ps_server listening on %s\n", (*server)->target().c_str());
  std::fflush(stdout);
  Log(LogLevel::kInfo, "Serving on ", (*server)->target(), " as ",
      (*server)->identity().place.ToString(), ", incarnation ",
      (*server)->identity().incarnation,
      " (max_variable_bytes=", options.store.max_variable_bytes,
      ", max_total_bytes=", options.store.max_total_bytes, "; ",
      SecuritySummary(options), ")");

  monitoring.Describe((*server)->target(), ServerFlags());
  monitoring.Serving(
      {&(*server)->store(), (*server)->durability(),
       [server = server->get()] { return server->open_sessions(); }});
  const int signal_number =
      WaitForTermination(**server, signals, options.durability.has_value());
  monitoring.Draining();
  Log(LogLevel::kInfo, "Received ", strsignal(signal_number),
      "; finishing calls in flight");
  (*server)->Shutdown(
      absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  if (options.durability.has_value()) CheckpointAndLog(**server, "shutdown");
  http.reset();
  Log(LogLevel::kInfo, "Shut down cleanly with ",
      (*server)->store().num_variables(), " variables");
  return 0;
}

}  // namespace
}  // namespace paramserver

namespace paramserver {
namespace {

// gRPC reads each message off the socket into buffers it allocates and frees
// again, a megabyte at a time; a streamed push allocates megabytes more.
// glibc's defaults hand such blocks back to the kernel as soon as they are
// free (past a threshold that adapts to at most 32 MiB, and at the top of
// each thread's heap past twice that), so the next message faults the same
// memory in again, page by page: on the model sync benchmark the server
// took some 12,000 page faults per step and ran at a third of its speed.
// Fixed thresholds keep freed memory for reuse instead: blocks up to 32 MiB
// come from the heaps, and up to kKeptFreeBytes of free memory stays at the
// top of each heap.
void KeepFreedMemoryForReuse() {
  constexpr int kMmapThresholdBytes = 32 << 20;  // glibc's largest.
  constexpr int kKeptFreeBytes = 256 << 20;
  mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  mallopt(M_TRIM_THRESHOLD, kKeptFreeBytes);
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  paramserver::KeepFreedMemoryForReuse();
  absl::SetProgramUsageMessage(
      "The parameter server: tf.get_variable over gRPC.");
  absl::ParseCommandLine(argc, argv);
  return paramserver::Run();
}
