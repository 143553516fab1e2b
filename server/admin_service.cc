#include "server/admin_service.h"

#include "server/caller.h"
#include "server/grpc_auth.h"
#include "server/grpc_raw_call.h"
#include "server/logging.h"
#include "wire/grpc_status.h"

namespace paramserver {
namespace {

absl::Status DoSave(Durability* durability, rpc::SaveResponse* response) {
  if (durability == nullptr) {
    return absl::FailedPreconditionError(
        "This server keeps no checkpoints: start it with --data_dir.");
  }
  absl::StatusOr<int64_t> sequence = durability->Checkpoint();
  if (!sequence.ok()) return sequence.status();
  response->set_checkpoint(*sequence);
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::Save(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  const Caller caller = AuthenticateCall(tokens_, *context);
  absl::Status status = ServeRaw<rpc::SaveRequest, rpc::SaveResponse>(
      caller, *request, response,
      [&](const rpc::SaveRequest&, rpc::SaveResponse* out) {
        // "" is the whole store: only tokens without prefixes may save it.
        absl::Status s = caller.Authorize(Action::kSave, {""});
        if (!s.ok()) return s;
        s = DoSave(durability_, out);
        if (!s.ok()) Log(LogLevel::kWarning, "Save failed: ", s.ToString());
        return s;
      });
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace paramserver
