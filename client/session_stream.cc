#include "client/session_stream.h"

#include <utility>

#include "wire/grpc_status.h"

namespace paramserver {
namespace {

// A session idle this long catches up with its connection before reuse.
constexpr absl::Duration kCatchUpAfter = absl::Milliseconds(10);

}  // namespace

SessionStream::SessionStream(rpc::ParameterServerSessions::Stub& stub,
                             const CallMetadata& metadata) {
  AddCallMetadata(&context_, metadata);
  // Corked, the call's headers go out with the first request: one write,
  // and no start operation to wait for (its tag never completes).
  context_.set_initial_metadata_corked(true);
  stream_ = stub.PrepareAsyncSession(&context_, &cq_);
  stream_->StartCall(&other_tag_);
}

SessionStream::~SessionStream() {
  context_.TryCancel();
  void* tag;
  bool ok;
  // Finish may not overlap a read still waiting for the headers.
  while (pending_ > 0 && cq_.Next(&tag, &ok)) --pending_;
  grpc::Status ignored;
  if (!finishing_) {
    stream_->Finish(&ignored, &other_tag_);
    ++pending_;
  }
  while (pending_ > 0 && cq_.Next(&tag, &ok)) --pending_;
  cq_.Shutdown();
  while (cq_.Next(&tag, &ok)) {
  }
}

absl::Status SessionStream::Await(absl::Time deadline) {
  bool all_ok = true;
  while (pending_ > 0) {
    void* tag;
    bool ok;
    switch (cq_.AsyncNext(&tag, &ok, absl::ToChronoTime(deadline))) {
      case grpc::CompletionQueue::GOT_EVENT:
        --pending_;
        all_ok &= ok;
        if (tag == &write_tag_ && !ok) write_failed_ = true;
        break;
      case grpc::CompletionQueue::TIMEOUT:
        broken_ = true;
        context_.TryCancel();
        return absl::DeadlineExceededError("Deadline Exceeded");
      case grpc::CompletionQueue::SHUTDOWN:
        broken_ = true;
        return absl::InternalError("Session queue shut down.");
    }
  }
  // Finish always completes with ok; its status tells what went wrong.
  if (all_ok || finishing_) return absl::OkStatus();
  return Fail(deadline);
}

absl::Status SessionStream::Fail(absl::Time deadline) {
  broken_ = true;
  grpc::Status status;
  finishing_ = true;
  stream_->Finish(&status, &other_tag_);
  ++pending_;
  if (absl::Status s = Await(deadline); !s.ok()) return s;
  if (status.ok()) return absl::UnavailableError("The session ended early.");
  return FromGrpcStatus(status);
}

absl::Status SessionStream::Call(const rpc::SessionRequest& request,
                                 rpc::SessionResponse* response,
                                 absl::Time deadline) {
  if (broken_) return absl::FailedPreconditionError("Broken session.");
  // The write and the read run together; both complete before returning.
  stream_->Write(request, &write_tag_);
  stream_->Read(response, &other_tag_);
  pending_ += 2;
  absl::Status status = Await(deadline);
  last_used_ = absl::Now();
  return status;
}

void SessionStream::CatchUp() {
  // Nothing is pending, so this only polls: the completion queue's poll
  // runs gRPC's transport work for the connection, without blocking.
  void* tag;
  bool ok;
  while (pending_ == 0 &&
         cq_.AsyncNext(&tag, &ok, gpr_time_0(GPR_CLOCK_MONOTONIC)) ==
             grpc::CompletionQueue::GOT_EVENT) {
  }
}

absl::Status SessionPool::Call(const rpc::SessionRequest& request,
                               rpc::SessionResponse* response,
                               absl::Time deadline, bool idempotent) {
  std::unique_ptr<SessionStream> session;
  {
    MutexLock lock(&mu_);
    if (!idle_.empty()) {
      session = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  const bool reused = session != nullptr;
  if (!reused) {
    session = std::make_unique<SessionStream>(*stub_, metadata_);
  } else if (absl::Now() - session->last_used() > kCatchUpAfter) {
    // An idle client reads its sockets only every few seconds (gRPC's
    // backup poller), so a reset that came meanwhile may not be known yet.
    session->CatchUp();
  }
  absl::Status status = session->Call(request, response, deadline);
  const bool stream_ended =
      absl::IsUnavailable(status) || absl::IsCancelled(status);
  if (reused && stream_ended && (session->request_unsent() || idempotent) &&
      absl::Now() < deadline) {
    session = std::make_unique<SessionStream>(*stub_, metadata_);
    status = session->Call(request, response, deadline);
  }
  if (!session->broken()) {
    MutexLock lock(&mu_);
    idle_.push_back(std::move(session));
  }
  return status;
}

}  // namespace paramserver
