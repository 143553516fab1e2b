// psctl: the parameter server's command-line tool, for people and scripts.
//
//   psctl --server=127.0.0.1:2222 get --scope=conv1 --name=weights
//         --shape=5,5,32,32 --initializer=random_normal --stddev=0.1
//         --seed=7 --reuse=auto            # one command, on three lines
//   psctl --server=... read conv1/weights --values
//   psctl --server=... list conv1
//   psctl --server=... table emb/users    # a dynamic table's counters
//   psctl --server=... delete conv1/weights
//   psctl --server=... delete --scope=conv1
//   psctl --server=... save             # write a checkpoint now
//   psctl --server=... health           # exit 0 when SERVING (probes, scripts)
//   psctl --server=... info             # job, shard, cluster, incarnation
//   psctl --servers=... join            # accept shards that lost their data
//   psctl --http=127.0.0.1:8080 stats   # the server's figures (--http_port)
//   psctl --server=host:2222 --tls_ca=ca.crt --token=... list
//   psctl --servers=ps-0.ps:2222,ps-1.ps:2222 list   # across shards
//
// Against a secured server: --tls_ca turns on TLS (--tls_cert and --tls_key
// add a client certificate for mutual TLS); --token, or the PS_TOKEN
// environment variable (which other users cannot see in `ps`), is sent as a
// bearer token.
//
// Prints one JSON object per variable on stdout. Errors go to stderr as
// "CODE: message" (gRPC's code names) with exit status 1; a malformed
// command line prints the usage and exits 2.

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli_parse.h"
#include "client/client.h"
#include "client/credentials.h"
#include "client/json_format.h"
#include "client/sharded_client.h"
#include "common/http_client.h"
#include "common/json_writer.h"
#include "common/loopback.h"
#include "proto/health.grpc.pb.h"
#include "proto/parameter_server.grpc.pb.h"
#include "wire/bearer_token.h"
#include "wire/grpc_status.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2222", "Parameter server HOST:PORT.");
ABSL_FLAG(std::string, servers, "",
          "Sharded servers HOST:PORT,HOST:PORT,... in shard order: get, read, "
          "rows, list and delete then work across them (overrides --server).");
ABSL_FLAG(std::string, job, "",
          "With --servers: the job they must belong to (their --job).");
ABSL_FLAG(double, timeout_seconds, 30, "Deadline of each call.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificate(s) of the server; set, the connection uses TLS.");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate, for mutual TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, token, "",
          "Bearer token for a server with --tokens_file; defaults to the "
          "PS_TOKEN environment variable.");
ABSL_FLAG(std::string, scope, "",
          "get: the variable scope; delete: a scope to delete.");
ABSL_FLAG(std::string, name, "", "get: the variable name within --scope.");
ABSL_FLAG(std::string, shape, "unset",
          "get: dimensions, e.g. 5,5,32,32; '' or [] for a scalar.");
ABSL_FLAG(std::string, dtype, "float32",
          "get: float32, float64, int32, int64 or bool.");
ABSL_FLAG(std::string, reuse, "false",
          "get: false (create), true (reuse) or auto.");
ABSL_FLAG(std::string, initializer, "default",
          "get: zeros, ones, constant, random_uniform, random_normal, "
          "truncated_normal, glorot_uniform, glorot_normal, variance_scaling.");
ABSL_FLAG(std::string, value, "",
          "constant: one value, or a row-major list such as 1,2,3 (the last "
          "value fills the rest); integers are exact.");
ABSL_FLAG(std::string, value_shape, "",
          "constant: the shape of --value's list, which must then equal the "
          "variable's (TF's verify_shape=True).");
ABSL_FLAG(std::string, minval, "", "random_uniform: lower bound (default 0).");
ABSL_FLAG(
    std::string, maxval, "",
    "random_uniform: upper bound (default 1; required for int32, int64).");
ABSL_FLAG(std::string, mean, "",
          "random_normal, truncated_normal: mean (default 0).");
ABSL_FLAG(std::string, stddev, "",
          "random_normal, truncated_normal: stddev (default 1).");
ABSL_FLAG(std::string, scale, "", "variance_scaling: scale (default 1).");
ABSL_FLAG(std::string, mode, "fan_in",
          "variance_scaling: fan_in, fan_out or fan_avg.");
ABSL_FLAG(std::string, distribution, "truncated_normal",
          "variance_scaling: truncated_normal, untruncated_normal or uniform.");
ABSL_FLAG(std::string, seed, "",
          "Seed making a random initializer deterministic.");
ABSL_FLAG(bool, trainable, true, "get: whether the variable is trainable.");
ABSL_FLAG(int, partitions, 0,
          "get with --servers: split the variable along its first axis into "
          "this many parts (tf.fixed_size_partitioner) over consecutive "
          "servers; 0: not partitioned.");
ABSL_FLAG(bool, values, false, "get, read: include the values in the output.");
ABSL_FLAG(std::string, ids, "", "rows: the row ids, e.g. 3,0,3.");
ABSL_FLAG(std::string, http, "127.0.0.1:8080",
          "stats: the server's HTTP port (ps_server --http_port), "
          "HOST:PORT.");

namespace paramserver {
namespace {

constexpr char kUsage[] =
    "psctl [--server=HOST:PORT] COMMAND [flags]\n"
    "  get     --scope=S --name=N [--shape=..] [--dtype=..] [--reuse=..]\n"
    "          [--initializer=.. and its parameters] [--seed=..] [--values]\n"
    "          [--partitions=P, with --servers: split along the first axis]\n"
    "  read    FULL_NAME [--values]\n"
    "  rows    FULL_NAME --ids=3,0,3 (rows of a table by id)\n"
    "  table   FULL_NAME (a dynamic table's spec and counters)\n"
    "  list    [PREFIX]\n"
    "  delete  FULL_NAME | --scope=S\n"
    "  save    (write a checkpoint now)\n"
    "  info    (job, shard index and count, cluster, incarnation; with\n"
    "          --servers, of each shard, after checking the cluster)\n"
    "  join    (--servers: let shards that lost their data join the\n"
    "          cluster as they are)\n"
    "  health  (grpc.health.v1 Check: exit 0 when SERVING, 1 otherwise)\n"
    "  stats   [--http=HOST:PORT] (the server's figures as JSON, from its\n"
    "          --http_port: calls, latency, memory, log, tables)";

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n",
               absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return 1;
}

int PrintJson(const absl::StatusOr<std::string>& json) {
  if (!json.ok()) return Fail(json.status());
  std::printf("%s\n", json->c_str());
  return 0;
}

// Applies the flag-given parameters on top of the initializer kind.
absl::Status ParseInitializerParameters(InitializerSpec& spec) {
  absl::StatusOr<std::vector<Number>> values =
      ParseNumberList(absl::GetFlag(FLAGS_value));
  if (!values.ok()) return values.status();
  spec.values = *std::move(values);
  if (!absl::GetFlag(FLAGS_value_shape).empty()) {
    absl::StatusOr<TensorShape> shape =
        ParseShape(absl::GetFlag(FLAGS_value_shape));
    if (!shape.ok()) return shape.status();
    spec.value_shape = *std::move(shape);
  }
  // Bounds keep integers exact; the other parameters are doubles.
  for (auto [flag, text, field] :
       {std::tuple{"minval", absl::GetFlag(FLAGS_minval), &spec.minval},
        std::tuple{"maxval", absl::GetFlag(FLAGS_maxval), &spec.maxval}}) {
    absl::StatusOr<std::optional<Number>> value =
        ParseOptionalNumber(flag, text);
    if (!value.ok()) return value.status();
    *field = *value;
  }
  for (auto [flag, text, field] :
       {std::tuple{"mean", absl::GetFlag(FLAGS_mean), &spec.mean},
        std::tuple{"stddev", absl::GetFlag(FLAGS_stddev), &spec.stddev},
        std::tuple{"scale", absl::GetFlag(FLAGS_scale), &spec.scale}}) {
    absl::StatusOr<std::optional<Number>> value =
        ParseOptionalNumber(flag, text);
    if (!value.ok()) return value.status();
    if (value->has_value()) *field = (*value)->ToDouble();
  }
  return absl::OkStatus();
}

absl::StatusOr<InitializerSpec> InitializerFromFlags() {
  InitializerSpec spec;
  absl::StatusOr<InitializerKind> kind =
      ParseInitializerKind(absl::GetFlag(FLAGS_initializer));
  if (!kind.ok()) return kind.status();
  spec.kind = *kind;
  if (absl::Status s = ParseInitializerParameters(spec); !s.ok()) return s;
  absl::StatusOr<FanMode> mode = ParseFanMode(absl::GetFlag(FLAGS_mode));
  if (!mode.ok()) return mode.status();
  spec.mode = *mode;
  absl::StatusOr<ScalingDistribution> distribution =
      ParseDistribution(absl::GetFlag(FLAGS_distribution));
  if (!distribution.ok()) return distribution.status();
  spec.distribution = *distribution;
  if (const std::string seed = absl::GetFlag(FLAGS_seed); !seed.empty()) {
    int64_t value;
    if (!absl::SimpleAtoi(seed, &value)) {
      return absl::InvalidArgumentError("Invalid --seed '" + seed + "'.");
    }
    spec.seed = value;
  }
  return spec;
}

absl::StatusOr<VariableRequest> RequestFromFlags() {
  VariableRequest request;
  request.scope = absl::GetFlag(FLAGS_scope);
  request.name = absl::GetFlag(FLAGS_name);
  absl::StatusOr<ReuseMode> reuse = ParseReuse(absl::GetFlag(FLAGS_reuse));
  if (!reuse.ok()) return reuse.status();
  request.reuse = *reuse;
  if (const std::string shape = absl::GetFlag(FLAGS_shape); shape != "unset") {
    absl::StatusOr<TensorShape> parsed = ParseShape(shape);
    if (!parsed.ok()) return parsed.status();
    request.shape = *std::move(parsed);
  }
  absl::StatusOr<DType> dtype = ParseDType(absl::GetFlag(FLAGS_dtype));
  if (!dtype.ok()) return dtype.status();
  request.dtype = *dtype;
  absl::StatusOr<InitializerSpec> initializer = InitializerFromFlags();
  if (!initializer.ok()) return initializer.status();
  request.initializer = *std::move(initializer);
  request.trainable = absl::GetFlag(FLAGS_trainable);
  return request;
}

// `sharded`: the same client when it is a ShardedClient (--servers).
int Get(VariableClient& client, ShardedClient* sharded) {
  absl::StatusOr<VariableRequest> request = RequestFromFlags();
  if (!request.ok()) return Fail(request.status());
  const bool with_values = absl::GetFlag(FLAGS_values);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  if (partitions != 0) {
    if (sharded == nullptr) {
      return Fail(absl::InvalidArgumentError(
          "--partitions needs --servers (one server is fine)."));
    }
    absl::StatusOr<PartitionedVariable> variable =
        sharded->GetPartitionedVariable(*request, partitions, with_values);
    if (!variable.ok()) return Fail(variable.status());
    const absl::string_view values = variable->value;
    return PrintJson(VariableToJson(variable->info, &variable->created,
                                    with_values ? &values : nullptr));
  }
  absl::StatusOr<FetchedVariable> variable =
      client.GetVariable(*request, with_values);
  if (!variable.ok()) return Fail(variable.status());
  const absl::string_view values = variable->value;
  return PrintJson(VariableToJson(variable->info, &variable->created,
                                  with_values ? &values : nullptr));
}

int Read(VariableClient& client, const std::string& name) {
  absl::StatusOr<FetchedVariable> variable = client.ReadVariable(name);
  if (!variable.ok()) return Fail(variable.status());
  const absl::string_view values = variable->value;
  return PrintJson(
      VariableToJson(variable->info, nullptr,
                     absl::GetFlag(FLAGS_values) ? &values : nullptr));
}

int Rows(VariableClient& client, const std::string& name) {
  absl::StatusOr<std::vector<int64_t>> ids = ParseIds(absl::GetFlag(FLAGS_ids));
  if (!ids.ok()) return Fail(ids.status());
  // A peek: inspecting a dynamic table changes nothing in it.
  absl::StatusOr<GatheredRows> gathered = client.PeekRows(name, *ids);
  if (!gathered.ok()) return Fail(gathered.status());
  return PrintJson(RowsToJson(gathered->info, *ids, gathered->rows));
}

int List(VariableClient& client, const std::string& prefix) {
  absl::StatusOr<std::vector<VariableInfo>> infos =
      client.ListVariables(prefix);
  if (!infos.ok()) return Fail(infos.status());
  for (const VariableInfo& info : *infos) {
    if (int rc = PrintJson(VariableToJson(info, nullptr, nullptr)); rc != 0) {
      return rc;
    }
  }
  return 0;
}

int Delete(VariableClient& client, const std::string& name) {
  const std::string scope = absl::GetFlag(FLAGS_scope);
  if (name.empty() == scope.empty()) {
    return Fail(absl::InvalidArgumentError(
        "delete needs either a FULL_NAME or --scope, not both."));
  }
  absl::StatusOr<std::vector<std::string>> deleted =
      name.empty() ? client.DeleteScope(scope) : client.DeleteVariable(name);
  if (!deleted.ok()) return Fail(deleted.status());
  JsonWriter json;
  json.BeginObject().Key("deleted").BeginArray();
  for (const std::string& deleted_name : *deleted) json.String(deleted_name);
  json.EndArray().EndObject();
  return PrintJson(json.text());
}

// The admin service has no place in the worker-facing client library.
int Save(const ClientOptions& options) {
  auto stub = rpc::ParameterServerAdmin::NewStub(grpc::CreateChannel(
      absl::GetFlag(FLAGS_server), MakeChannelCredentials(options)));
  grpc::ClientContext context;
  AddBearerToken(&context, options.token);
  context.set_deadline(absl::ToChronoTime(
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds))));
  rpc::SaveResponse response;
  absl::Status status =
      FromGrpcStatus(stub->Save(&context, rpc::SaveRequest(), &response));
  if (!status.ok()) return Fail(status);
  JsonWriter json;
  json.BeginObject().Key("checkpoint").Int(response.checkpoint()).EndObject();
  return PrintJson(json.text());
}

// GET /api/stats from the server's HTTP port: the figures /metrics shows,
// as one JSON object, printed as received.
int Stats(const ClientOptions& options) {
  const std::string target = absl::GetFlag(FLAGS_http);
  const size_t colon = target.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(target.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--http=", target, " is not HOST:PORT.")));
  }
  const std::string host = target.substr(0, colon);
  // Plain HTTP only: a token is sent where it cannot be overheard.
  if (!options.token.empty() && !IsLoopbackAddress(host)) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "psctl stats speaks plain HTTP and sends a token only to a loopback "
        "address, not to ",
        host,
        ". Run it on the server's host, or read /api/stats over HTTPS "
        "(ps_server --tls_cert) with curl --cacert.")));
  }
  absl::StatusOr<HttpReply> reply =
      HttpGet(host, port, "/api/stats", options.token);
  if (!reply.ok()) return Fail(reply.status());
  if (reply->status == 200) {
    std::printf("%s\n", reply->body.c_str());
    return 0;
  }
  absl::StatusCode code = absl::StatusCode::kUnavailable;
  if (reply->status == 401) code = absl::StatusCode::kUnauthenticated;
  if (reply->status == 403) code = absl::StatusCode::kPermissionDenied;
  if (reply->status == 404) code = absl::StatusCode::kUnimplemented;
  return Fail(absl::Status(
      code,
      absl::StrCat("GET /api/stats from ", target, " answered ", reply->status,
                   ": ", absl::StripAsciiWhitespace(reply->body))));
}

// grpc.health.v1.Health/Check for the whole server (service ""), as
// container health checks and Kubernetes probes run it.
int Health(const ClientOptions& options) {
  using grpc::health::v1::HealthCheckResponse;
  const std::string target = absl::GetFlag(FLAGS_server);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(target, MakeChannelCredentials(options)));
  grpc::ClientContext context;
  AddBearerToken(&context, options.token);
  context.set_deadline(absl::ToChronoTime(
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds))));
  HealthCheckResponse response;
  absl::Status status = FromGrpcStatus(
      stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &response));
  if (!status.ok()) {
    return Fail(absl::Status(status.code(),
                             absl::StrCat("health check of ", target,
                                          " failed: ", status.message())));
  }
  // A status newer than this file is shown by its number.
  const int value = response.status();
  const std::string name =
      HealthCheckResponse::ServingStatus_IsValid(value)
          ? HealthCheckResponse::ServingStatus_Name(response.status())
          : absl::StrCat(value);
  if (response.status() != HealthCheckResponse::SERVING) {
    return Fail(absl::UnavailableError(
        absl::StrCat("The server at ", target, " reports ", name, ".")));
  }
  JsonWriter json;
  json.BeginObject().Key("status").String(name).EndObject();
  return PrintJson(json.text());
}

int PrintInfo(const ServerInfo& info) {
  JsonWriter json;
  json.BeginObject()
      .Key("job")
      .String(info.place.job)
      .Key("shard_index")
      .Int(info.place.index)
      .Key("shard_count")
      .Int(info.place.count)
      .Key("cluster")
      .String(info.cluster)
      .Key("incarnation")
      .String(info.incarnation)
      .Key("variables")
      .Int(info.num_variables)
      .EndObject();
  return PrintJson(json.text());
}

// Where one server stands in its job, and the incarnation of its data.
int Info(VariableClient& client) {
  absl::StatusOr<ServerInfo> info = client.GetServerInfo();
  if (!info.ok()) return Fail(info.status());
  return PrintInfo(*info);
}

// Each shard's info after ShardedClient::CheckCluster, one line each.
int CheckCluster(ShardedClient& client, bool accept_empty_shards) {
  absl::StatusOr<std::vector<ServerInfo>> infos =
      client.CheckCluster(accept_empty_shards);
  if (!infos.ok()) return Fail(infos.status());
  for (const ServerInfo& info : *infos) {
    if (int rc = PrintInfo(info); rc != 0) return rc;
  }
  return 0;
}

// Timeout, TLS and token from the flags.
absl::StatusOr<ClientOptions> OptionsFromFlags() {
  ClientOptions options;
  options.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  options.job = absl::GetFlag(FLAGS_job);
  if (absl::Status s = SetTlsAndToken(
          absl::GetFlag(FLAGS_tls_ca), absl::GetFlag(FLAGS_tls_cert),
          absl::GetFlag(FLAGS_tls_key), absl::GetFlag(FLAGS_token), options);
      !s.ok()) {
    return s;
  }
  return options;
}

int Dispatch(const std::vector<char*>& args) {
  // args[0] is the program; args[1] the command; args[2] its operand.
  if (args.size() < 2 || args.size() > 3) {
    std::fprintf(stderr, "usage: %s\n", kUsage);
    return 2;
  }
  const std::string command = args[1];
  const std::string operand = args.size() == 3 ? args[2] : "";
  absl::StatusOr<ClientOptions> options = OptionsFromFlags();
  if (!options.ok()) return Fail(options.status());
  const std::string servers = absl::GetFlag(FLAGS_servers);
  if ((command == "health" || command == "save") && !servers.empty()) {
    return Fail(absl::InvalidArgumentError(
        command + " talks to one server: give it --server, not --servers."));
  }
  if (command == "health" && operand.empty()) return Health(*options);
  if (command == "stats" && operand.empty()) return Stats(*options);
  const std::vector<std::string> shards =
      absl::StrSplit(servers, ',', absl::SkipEmpty());
  absl::StatusOr<std::unique_ptr<VariableClient>> client =
      servers.empty() ? absl::StatusOr<std::unique_ptr<VariableClient>>(
                            ParameterServerClient::Connect(
                                absl::GetFlag(FLAGS_server), *options))
                      : absl::StatusOr<std::unique_ptr<VariableClient>>(
                            ShardedClient::Connect(shards, *options));
  if (!client.ok()) return Fail(client.status());
  if ((command == "info" || command == "join") && operand.empty() &&
      !servers.empty()) {
    return CheckCluster(static_cast<ShardedClient&>(**client),
                        command == "join");
  }
  if (command == "join") {
    return Fail(absl::InvalidArgumentError(
        "join checks a whole job: give it --servers, in shard order."));
  }
  if (command == "get" && operand.empty()) {
    return Get(**client, servers.empty()
                             ? nullptr
                             : static_cast<ShardedClient*>(client->get()));
  }
  if (command == "read" && !operand.empty()) return Read(**client, operand);
  if (command == "rows" && !operand.empty()) return Rows(**client, operand);
  if (command == "table" && !operand.empty()) {
    absl::StatusOr<TableStatus> table = (*client)->GetTableStats(operand);
    if (!table.ok()) return Fail(table.status());
    return PrintJson(TableToJson(*table));
  }
  if (command == "list") return List(**client, operand);
  if (command == "delete") return Delete(**client, operand);
  if (command == "save" && operand.empty()) return Save(*options);
  if (command == "info" && operand.empty()) return Info(**client);
  std::fprintf(stderr, "usage: %s\n", kUsage);
  return 2;
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(paramserver::kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  return paramserver::Dispatch(args);
}
