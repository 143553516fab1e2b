#include "server/grpc_service.h"

#include <utility>

#include "server/caller.h"
#include "server/grpc_auth.h"
#include "server/grpc_chunk_streams.h"
#include "server/grpc_raw_call.h"
#include "server/grpc_zero_copy.h"
#include "server/logging.h"
#include "wire/grpc_status.h"
#include "wire/zero_copy_writer.h"

namespace paramserver {
namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 absl::string_view method,
                                 const absl::Status& status) {
  if (!status.ok()) {
    Log(LogLevel::kDebug, method, " from ", context->peer(), ": ",
        status.ToString());
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// One unary method: authenticate, parse, `handler`, serialize, finish.
template <typename Request, typename Response>
grpc::ServerUnaryReactor* ServeUnary(
    VariableService* service, const TokenTable* tokens,
    grpc::CallbackServerContext* context, absl::string_view method,
    const grpc::ByteBuffer& raw_request, grpc::ByteBuffer* raw_response,
    absl::Status (VariableService::*handler)(const Caller&, const Request&,
                                             Response*)) {
  const Caller caller = AuthenticateCall(tokens, *context);
  return Finish(context, method,
                ServeRaw<Request, Response>(
                    caller, raw_request, raw_response,
                    [&](const Request& request, Response* response) {
                      return (service->*handler)(caller, request, response);
                    }));
}

// As ServeRaw, but the response is encoded by hand, so that tensor bytes go
// to gRPC without a copy.
absl::Status ServePull(VariableService& service, const Caller& caller,
                       const grpc::ByteBuffer& raw_request,
                       grpc::ByteBuffer* raw_response) {
  if (absl::Status s = service.Admit(caller, Action::kRead, {}); !s.ok())
    return s;
  rpc::PullRequest request;
  if (absl::Status s = ParseRequest(raw_request, &request); !s.ok()) return s;
  absl::StatusOr<VariableService::PullReply> reply =
      service.Pull(caller, std::move(request));
  if (!reply.ok()) return reply.status();
  *raw_response = EncodePullResponse(reply->results, reply->max_inline_bytes);
  return absl::OkStatus();
}

// A method that answers rows (GatherRows; LookupSparse, whose pooled rows
// go as a gather's do): `handler`'s rows are sent from the store's result
// without a copy.
template <typename Request>
absl::Status ServeRows(VariableService& service, const Caller& caller,
                       const grpc::ByteBuffer& raw_request,
                       grpc::ByteBuffer* raw_response,
                       absl::StatusOr<VariableStore::GatherResult> (
                           VariableService::*handler)(const Caller&,
                                                      const Request&)) {
  if (absl::Status s = service.Admit(caller, Action::kRead, {}); !s.ok())
    return s;
  Request request;
  if (absl::Status s = ParseRequest(raw_request, &request); !s.ok()) return s;
  absl::StatusOr<VariableStore::GatherResult> rows =
      (service.*handler)(caller, request);
  if (!rows.ok()) return rows.status();
  *raw_response = EncodeGatherRowsResponse(*rows);
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* ParameterServerService::LookupSparse(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Finish(context, "LookupSparse",
                ServeRows(service_, AuthenticateCall(tokens_, *context),
                          *request, response, &VariableService::LookupSparse));
}

grpc::ServerUnaryReactor* ParameterServerService::GetServerInfo(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(&service_, tokens_, context, "GetServerInfo", *request,
                    response, &VariableService::GetServerInfo);
}

grpc::ServerUnaryReactor* ParameterServerService::JoinCluster(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(&service_, tokens_, context, "JoinCluster", *request,
                    response, &VariableService::JoinCluster);
}

grpc::ServerUnaryReactor* ParameterServerService::GetTable(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(&service_, tokens_, context, "GetTable", *request, response,
                    &VariableService::GetTable);
}

grpc::ServerUnaryReactor* ParameterServerService::GetTableStats(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(&service_, tokens_, context, "GetTableStats", *request,
                    response, &VariableService::GetTableStats);
}

grpc::ServerUnaryReactor* ParameterServerService::GetVariable(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(&service_, tokens_, context, "GetVariable", *request,
                    response, &VariableService::GetVariable);
}

grpc::ServerUnaryReactor* ParameterServerService::GatherRows(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Finish(context, "GatherRows",
                ServeRows(service_, AuthenticateCall(tokens_, *context),
                          *request, response, &VariableService::GatherRows));
}

grpc::ServerUnaryReactor* ParameterServerService::ReadVariable(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(&service_, tokens_, context, "ReadVariable", *request,
                    response, &VariableService::ReadVariable);
}

grpc::ServerUnaryReactor* ParameterServerService::ListVariables(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(&service_, tokens_, context, "ListVariables", *request,
                    response, &VariableService::ListVariables);
}

grpc::ServerUnaryReactor* ParameterServerService::DeleteVariables(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(&service_, tokens_, context, "DeleteVariables", *request,
                    response, &VariableService::DeleteVariables);
}

grpc::ServerUnaryReactor* ParameterServerService::Pull(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Finish(context, "Pull",
                ServePull(service_, AuthenticateCall(tokens_, *context),
                          *request, response));
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ParameterServerService::PullChunks(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return NewPullChunksReactor(&service_, tokens_, &watchdog_, context, request);
}

grpc::ServerUnaryReactor* ParameterServerService::Push(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(&service_, tokens_, context, "Push", *request, response,
                    &VariableService::Push);
}

grpc::ServerUnaryReactor* ParameterServerService::PushRows(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(&service_, tokens_, context, "PushRows", *request, response,
                    &VariableService::PushRows);
}

grpc::ServerReadReactor<grpc::ByteBuffer>* ParameterServerService::PushChunks(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  return NewPushChunksReactor(&service_, tokens_, &watchdog_, &push_buffers_,
                              context, response);
}

}  // namespace paramserver
