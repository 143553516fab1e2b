#include "server/grpc_service.h"

#include <string>
#include <utility>
#include <vector>

#include "server/grpc_auth.h"
#include "server/grpc_raw_call.h"
#include "wire/grpc_status.h"
#include "server/grpc_streams.h"
#include "server/grpc_zero_copy.h"
#include "wire/zero_copy_writer.h"
#include "server/logging.h"
#include "common/names.h"
#include "wire/proto_convert.h"

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

void FillSnapshot(const VariableSnapshot& snapshot, rpc::VariableInfo* info,
                  std::string* value) {
  ToProto(snapshot.info, info);
  if (value != nullptr) {
    value->assign(snapshot.value->data(), snapshot.value->size());
  }
}

}  // namespace

absl::Status HandleGetVariable(VariableStore& store,
                               const rpc::GetVariableRequest& request,
                               rpc::GetVariableResponse* response) {
  absl::StatusOr<VariableRequest> parsed = FromProto(request);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<VariableStore::GetResult> result = store.GetVariable(*parsed);
  if (!result.ok()) return result.status();
  response->set_created(result->created);
  FillSnapshot(result->snapshot, response->mutable_variable(),
               request.return_value() ? response->mutable_value() : nullptr);
  if (result->created) {
    Log(LogLevel::kInfo, "Created variable ", result->snapshot.info.name, " ",
        ShapeToString(result->snapshot.info.shape), " ",
        DTypeName(result->snapshot.info.dtype));
  }
  return absl::OkStatus();
}

absl::Status CheckGetVariableAccess(const TokenTable* tokens,
                                    const grpc::ServerContextBase& context,
                                    const rpc::GetVariableRequest& request) {
  const Action action =
      request.reuse() == rpc::REUSE ? Action::kRead : Action::kCreate;
  return CheckAccess(tokens, context, action,
                     {JoinScope(request.scope(), request.name())});
}

absl::Status CheckPushAccess(const TokenTable* tokens,
                             const grpc::ServerContextBase& context,
                             const rpc::PushRequest& request) {
  std::vector<std::string> names;
  names.reserve(request.updates_size());
  for (const rpc::Update& update : request.updates()) {
    names.push_back(update.name());
  }
  return CheckAccess(tokens, context, Action::kWrite, names);
}

namespace {

// The variable or scope a delete touches; "" (everything) when unset.
std::string DeleteTarget(const rpc::DeleteVariablesRequest& request) {
  return request.target_case() == rpc::DeleteVariablesRequest::kName
             ? request.name()
             : request.scope();
}

absl::Status DoDelete(VariableStore& store,
                      const rpc::DeleteVariablesRequest& request,
                      rpc::DeleteVariablesResponse* response) {
  absl::StatusOr<std::vector<std::string>> deleted;
  switch (request.target_case()) {
    case rpc::DeleteVariablesRequest::kName:
      deleted = store.DeleteVariable(request.name());
      break;
    case rpc::DeleteVariablesRequest::kScope:
      deleted = store.DeleteScope(request.scope());
      break;
    case rpc::DeleteVariablesRequest::TARGET_NOT_SET:
      return absl::InvalidArgumentError(
          "DeleteVariables needs a variable name or a scope.");
  }
  if (!deleted.ok()) return deleted.status();
  for (std::string& name : *deleted) {
    Log(LogLevel::kInfo, "Deleted variable ", name);
    response->add_deleted(std::move(name));
  }
  return absl::OkStatus();
}

// Inlines values up to `max_inline_bytes`; larger ones are marked streamed.
absl::Status DoPull(VariableStore& store, const TokenTable* tokens,
                    const grpc::CallbackServerContext& context,
                    const grpc::ByteBuffer& raw_request,
                    grpc::ByteBuffer* response) {
  constexpr int64_t kDefaultMaxInline = int64_t{64} << 20;
  // The token and role first, so that unauthenticated callers learn nothing
  // from parse errors; the names once decoded.
  if (absl::Status s = CheckAccess(tokens, context, Action::kRead, {});
      !s.ok()) {
    return s;
  }
  rpc::PullRequest request;
  if (absl::Status s = ParseRequest(raw_request, &request); !s.ok()) return s;
  std::vector<std::string> names;
  names.reserve(request.items_size());
  for (const rpc::PullItem& item : request.items()) names.push_back(item.name());
  if (absl::Status s = CheckAccess(tokens, context, Action::kRead, names);
      !s.ok()) {
    return s;
  }
  const int64_t max_inline = request.max_inline_bytes() > 0
                                 ? request.max_inline_bytes()
                                 : kDefaultMaxInline;
  std::vector<PullItemSpec> items;
  items.reserve(request.items_size());
  for (rpc::PullItem& item : *request.mutable_items()) {
    items.push_back({std::move(*item.mutable_name()), item.known_version()});
  }
  absl::StatusOr<std::vector<VariableStore::PullResult>> pulled = store.Pull(items);
  if (!pulled.ok()) return pulled.status();
  *response = EncodePullResponse(*pulled, max_inline);
  return absl::OkStatus();
}

absl::Status DoPush(VariableStore& store, const TokenTable* tokens,
                    const grpc::CallbackServerContext& context,
                    const rpc::PushRequest& request,
                    rpc::PushResponse* response) {
  // Before anything is done per update.
  if (static_cast<size_t>(request.updates_size()) > kMaxUpdatesPerPush) {
    return absl::InvalidArgumentError(
        absl::StrCat("A push may carry at most ", kMaxUpdatesPerPush,
                     " updates; this one has ", request.updates_size(), "."));
  }
  if (absl::Status s = CheckPushAccess(tokens, context, request); !s.ok()) {
    return s;
  }
  absl::StatusOr<PushSpec> push = FromProto(request);
  if (!push.ok()) return push.status();
  absl::StatusOr<std::vector<VariableInfo>> infos = store.Push(*push);
  if (!infos.ok()) return infos.status();
  for (const VariableInfo& info : *infos) ToProto(info, response->add_variables());
  return absl::OkStatus();
}

absl::Status DoRead(VariableStore& store, const TokenTable* tokens,
                    const grpc::CallbackServerContext& context,
                    const rpc::ReadVariableRequest& request,
                    rpc::ReadVariableResponse* response) {
  if (absl::Status s = CheckAccess(tokens, context, Action::kRead, {request.name()});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<VariableSnapshot> snapshot = store.ReadVariable(request.name());
  if (!snapshot.ok()) return snapshot.status();
  FillSnapshot(*snapshot, response->mutable_variable(), response->mutable_value());
  return absl::OkStatus();
}

absl::Status DoList(VariableStore& store, const TokenTable* tokens,
                    const grpc::CallbackServerContext& context,
                    const rpc::ListVariablesRequest& request,
                    rpc::ListVariablesResponse* response) {
  if (absl::Status s =
          CheckAccess(tokens, context, Action::kRead, {request.prefix()});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<VariableInfo>> infos =
      store.ListVariables(request.prefix());
  if (!infos.ok()) return infos.status();
  for (const VariableInfo& info : *infos) ToProto(info, response->add_variables());
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* ParameterServerService::Pull(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Finish(context, "Pull",
                DoPull(*store_, tokens_, *context, *request, response));
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ParameterServerService::PullChunks(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return NewPullChunksReactor(store_, tokens_, &watchdog_, context, request);
}

grpc::ServerUnaryReactor* ParameterServerService::Push(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Finish(context, "Push",
                ServeRaw<rpc::PushRequest, rpc::PushResponse>(
                    tokens_, *context, *request, response,
                    [&](const rpc::PushRequest& in, rpc::PushResponse* out) {
                      return DoPush(*store_, tokens_, *context, in, out);
                    }));
}

grpc::ServerReadReactor<grpc::ByteBuffer>* ParameterServerService::PushChunks(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  return NewPushChunksReactor(store_, tokens_, &watchdog_, context, response);
}

grpc::ServerUnaryReactor* ParameterServerService::GetVariable(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Finish(
      context, "GetVariable",
      ServeRaw<rpc::GetVariableRequest, rpc::GetVariableResponse>(
          tokens_, *context, *request, response,
          [&](const rpc::GetVariableRequest& in, rpc::GetVariableResponse* out) {
            absl::Status s = CheckGetVariableAccess(tokens_, *context, in);
            return s.ok() ? HandleGetVariable(*store_, in, out) : s;
          }));
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
SessionService::Session(grpc::CallbackServerContext* context) {
  return NewSessionReactor(store_, tokens_, &registry_, context);
}

grpc::ServerUnaryReactor* ParameterServerService::ReadVariable(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Finish(
      context, "ReadVariable",
      ServeRaw<rpc::ReadVariableRequest, rpc::ReadVariableResponse>(
          tokens_, *context, *request, response,
          [&](const rpc::ReadVariableRequest& in, rpc::ReadVariableResponse* out) {
            return DoRead(*store_, tokens_, *context, in, out);
          }));
}

grpc::ServerUnaryReactor* ParameterServerService::ListVariables(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Finish(
      context, "ListVariables",
      ServeRaw<rpc::ListVariablesRequest, rpc::ListVariablesResponse>(
          tokens_, *context, *request, response,
          [&](const rpc::ListVariablesRequest& in, rpc::ListVariablesResponse* out) {
            return DoList(*store_, tokens_, *context, in, out);
          }));
}

grpc::ServerUnaryReactor* ParameterServerService::DeleteVariables(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return Finish(
      context, "DeleteVariables",
      ServeRaw<rpc::DeleteVariablesRequest, rpc::DeleteVariablesResponse>(
          tokens_, *context, *request, response,
          [&](const rpc::DeleteVariablesRequest& in,
              rpc::DeleteVariablesResponse* out) {
            absl::Status s = CheckAccess(tokens_, *context, Action::kDelete,
                                         {DeleteTarget(in)});
            return s.ok() ? DoDelete(*store_, in, out) : s;
          }));
}

}  // namespace paramserver
