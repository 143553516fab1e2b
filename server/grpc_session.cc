#include "server/grpc_session.h"

#include <string>

#include "server/caller.h"
#include "server/grpc_auth.h"
#include "wire/grpc_status.h"
#include "wire/zero_copy_writer.h"

namespace paramserver {
namespace {

// Serves one call at a time: read, answer, write, read again. Calls run on
// gRPC's callback threads, as the unary handlers do.
class SessionReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  SessionReactor(VariableService* service, const TokenTable* tokens,
                 SessionRegistry* registry,
                 grpc::CallbackServerContext* context)
      : service_(service),
        caller_(AuthenticateCall(tokens, *context)),
        registry_(registry),
        context_(context) {
    // Any known token may open a session; each call's role is checked later.
    if (absl::Status s = service_->Admit(caller_, Action::kRead, {}); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    if (!registry_->Add(context_)) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "The server is shutting down."));
      return;
    }
    StartRead(&raw_request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The client closed its side: the session is over.
      Finish(grpc::Status::OK);
      return;
    }
    rpc::SessionResponse response;
    absl::Status status = Serve(&response);
    if (!status.ok()) {
      response.Clear();
      SetStatusFields(status, &response);
    }
    if (absl::Status s = SerializeMessage(response, &raw_response_); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    StartWrite(&raw_response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "Stream closed."));
      return;
    }
    StartRead(&raw_request_);
  }

  void OnDone() override {
    registry_->Remove(context_);
    delete this;
  }

 private:
  absl::Status Serve(rpc::SessionResponse* response) {
    rpc::SessionRequest request;
    if (absl::Status s = ParseRequest(raw_request_, &request); !s.ok())
      return s;
    switch (request.call_case()) {
      case rpc::SessionRequest::kGetVariable:
        return service_->GetVariable(caller_, request.get_variable(),
                                     response->mutable_get_variable());
      case rpc::SessionRequest::CALL_NOT_SET:
        break;
    }
    return absl::UnimplementedError("Unknown or empty session call.");
  }

  VariableService* const service_;
  const Caller caller_;  // Authenticated once, at open.
  SessionRegistry* const registry_;
  grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer raw_request_;
  grpc::ByteBuffer raw_response_;  // In flight until OnWriteDone.
};

}  // namespace

bool SessionRegistry::Add(grpc::CallbackServerContext* context) {
  MutexLock lock(&mu_);
  if (cancelled_) return false;
  open_.insert(context);
  return true;
}

void SessionRegistry::Remove(grpc::CallbackServerContext* context) {
  MutexLock lock(&mu_);
  open_.erase(context);
}

size_t SessionRegistry::open() const {
  MutexLock lock(&mu_);
  return open_.size();
}

void SessionRegistry::CancelAll() {
  // Under the lock, so no reactor can finish and free its context meanwhile.
  // gRPC runs the reactions that follow on its own threads, not in here.
  MutexLock lock(&mu_);
  cancelled_ = true;
  for (grpc::CallbackServerContext* context : open_) context->TryCancel();
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
SessionService::Session(grpc::CallbackServerContext* context) {
  return new SessionReactor(service_, tokens_, &registry_, context);
}

}  // namespace paramserver
