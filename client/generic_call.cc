#include "client/generic_call.h"

namespace paramserver {
namespace {

// Shuts `cq` down and takes what is left in it, as a queue must be emptied
// before it is destroyed.
void Drain(grpc::CompletionQueue& cq) {
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace

grpc::Status GenericUnaryCall(grpc::GenericStub& stub,
                              grpc::ClientContext* context,
                              const std::string& method,
                              const grpc::ByteBuffer& request,
                              grpc::ByteBuffer* response) {
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(context, method, request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(response, &status, &status);
  void* tag;
  bool ok;
  // Finish always completes (with ok), whatever became of the call.
  if (!cq.Next(&tag, &ok)) {
    status =
        grpc::Status(grpc::StatusCode::INTERNAL, "The call did not complete.");
  }
  Drain(cq);
  return status;
}

GenericStreamCall::GenericStreamCall(grpc::GenericStub& stub,
                                     grpc::ClientContext* context,
                                     const std::string& method)
    : context_(context) {
  // Corked, the headers go out with the first message, in one batch; the
  // start has then no operation of its own (its tag never completes).
  context_->set_initial_metadata_corked(true);
  stream_ = stub.PrepareCall(context_, method, &cq_);
  stream_->StartCall(nullptr);
}

GenericStreamCall::~GenericStreamCall() {
  if (!finished_) {
    context_->TryCancel();
    Finish();
  }
  Drain(cq_);
}

bool GenericStreamCall::Await() {
  void* tag;
  bool ok = false;
  return cq_.Next(&tag, &ok) && ok;
}

bool GenericStreamCall::Write(const grpc::ByteBuffer& message) {
  stream_->Write(message, this);
  return Await();
}

bool GenericStreamCall::WriteLast(const grpc::ByteBuffer& message) {
  stream_->Write(message, grpc::WriteOptions().set_last_message(), this);
  return Await();
}

bool GenericStreamCall::WritesDone() {
  stream_->WritesDone(this);
  return Await();
}

bool GenericStreamCall::Read(grpc::ByteBuffer* message) {
  stream_->Read(message, this);
  return Await();
}

grpc::Status GenericStreamCall::Finish() {
  finished_ = true;
  grpc::Status status;
  stream_->Finish(&status, this);
  if (!Await()) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "The call did not complete.");
  }
  return status;
}

}  // namespace paramserver
