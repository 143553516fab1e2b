// The seed's variable-sharing example, as a worker against a running server:
//
//   with tf.variable_scope("foo"):
//       v = tf.get_variable("v", [1])
//       tf.get_variable_scope().reuse_variables()
//       v1 = tf.get_variable("v", [1])
//   assert v1 == v
//
// run by several worker threads at once, each with its own scopes and all
// sharing the server's variables. Usage: variable_sharing --server=HOST:PORT

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "client/client.h"
#include "client/get_variable.h"
#include "client/variable_scope.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2222", "Parameter server HOST:PORT.");
ABSL_FLAG(int, workers, 4, "Worker threads, each running the example.");

namespace paramserver {
namespace {

float FirstFloat(const FetchedVariable& variable) {
  float value = 0;
  std::memcpy(&value, variable.value.data(), sizeof(value));
  return value;
}

// One worker: the TF snippet, line for line.
absl::Status RunWorker(ParameterServerClient& client, int worker) {
  VariableScope foo("foo", {.reuse = ScopeReuse::kAutoReuse});
  absl::StatusOr<FetchedVariable> v = GetVariable(client, "v", {{1}}, {}, true);
  if (!v.ok()) return v.status();
  ReuseVariables();
  absl::StatusOr<FetchedVariable> v1 =
      GetVariable(client, "v", {{1}}, {}, true);
  if (!v1.ok()) return v1.status();
  if (v1->info.name != v->info.name || v1->value != v->value) {
    return absl::InternalError("v1 != v");
  }
  std::printf("worker %d: %s = %.6f (%s), v1 == v\n", worker,
              v->info.name.c_str(), FirstFloat(*v),
              v->created ? "created it" : "reused it");
  return absl::OkStatus();
}

int Run() {
  auto client = ParameterServerClient::Connect(absl::GetFlag(FLAGS_server));
  if (!client.ok()) return 1;
  const int workers = absl::GetFlag(FLAGS_workers);
  std::vector<absl::Status> results(workers);
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back([&, i] { results[i] = RunWorker(**client, i); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& status : results) {
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace paramserver

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return paramserver::Run();
}
