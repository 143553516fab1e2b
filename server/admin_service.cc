#include "server/admin_service.h"

#include "server/grpc_status.h"
#include "server/logging.h"

namespace paramserver {

grpc::ServerUnaryReactor* AdminService::Save(grpc::CallbackServerContext* context,
                                             const rpc::SaveRequest* request,
                                             rpc::SaveResponse* response) {
  absl::Status status;
  if (durability_ == nullptr) {
    status = absl::FailedPreconditionError(
        "This server keeps no checkpoints: start it with --data_dir.");
  } else {
    absl::StatusOr<int64_t> sequence = durability_->Checkpoint();
    if (sequence.ok()) response->set_checkpoint(*sequence);
    status = sequence.status();
  }
  if (!status.ok()) Log(LogLevel::kWarning, "Save failed: ", status.ToString());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace paramserver
