// libFuzzer target: arbitrary bytes as wire requests to the store, through
// the same conversion and validation the gRPC service uses. The first byte
// picks the request type; the rest is parsed as that message. Any crash,
// sanitizer report or broken invariant is a bug: bad input must only ever
// produce a status.
//
//   bazel --output_base=$HOME/.cache/bazel_fuzz build --config=fuzz //server/fuzz:store_fuzzer
//   $(bazel ... info bazel-bin)/server/fuzz/store_fuzzer -max_total_time=60 server/fuzz/corpus

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "google/protobuf/stubs/logging.h"
#include "proto/parameter_server.pb.h"
#include "wire/proto_convert.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

VariableStore& Store() {
  // Small limits keep every input cheap; one store across inputs lets
  // sequences of requests interact (create, then push, then delete...).
  static VariableStore* store = [] {
    StoreOptions options;
    options.max_variable_bytes = 1 << 16;
    options.max_total_bytes = 1 << 20;
    return VariableStore::Create(options)->release();
  }();
  return *store;
}

void GetVariable(const std::string& bytes) {
  rpc::GetVariableRequest proto;
  if (!proto.ParseFromString(bytes)) return;
  absl::StatusOr<VariableRequest> request = FromProto(proto);
  if (!request.ok()) return;
  absl::StatusOr<VariableStore::GetResult> result = Store().GetVariable(*request);
  if (result.ok() && result->snapshot.value->size() !=
                         static_cast<size_t>(*NumElements(result->snapshot.info.shape)) *
                             DTypeSize(result->snapshot.info.dtype)) {
    std::abort();  // A value must always match its shape and dtype.
  }
}

void Push(const std::string& bytes) {
  rpc::PushRequest proto;
  if (!proto.ParseFromString(bytes)) return;
  absl::StatusOr<PushSpec> push = FromProto(proto);
  if (push.ok()) (void)Store().Push(*push);
}

void ListOrDelete(const std::string& bytes, bool list) {
  if (list) {
    (void)Store().ListVariables(bytes);
  } else if (!bytes.empty() && bytes[0] == 's') {
    (void)Store().DeleteScope(bytes.substr(1));
  } else {
    (void)Store().DeleteVariable(bytes);
  }
}

}  // namespace
}  // namespace paramserver

// Protobuf logs every string field with invalid UTF-8 it rejects: millions
// of lines per run that say nothing (a rejected parse is an expected
// outcome here).
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      paramserver::GetVariable(rest);
      break;
    case 1:
      paramserver::Push(rest);
      break;
    default:
      paramserver::ListOrDelete(rest, data[0] % 4 == 2);
  }
  return 0;
}
