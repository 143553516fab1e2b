#ifndef PARAM_SERVER_CLIENT_SESSION_STREAM_H_
#define PARAM_SERVER_CLIENT_SESSION_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "proto/parameter_server.grpc.pb.h"
#include "wire/call_metadata.h"

namespace paramserver {

// One ParameterServerSessions.Session stream, used by one caller at a time.
// The caller's own thread drives the stream's completion queue, so a call
// costs no hand-off between threads, and the per-call deadline is a bounded
// wait. Not thread-safe; see SessionPool.
class SessionStream {
 public:
  // `metadata` (token, expected place) goes with the stream.
  SessionStream(rpc::ParameterServerSessions::Stub& stub,
                const CallMetadata& metadata);
  ~SessionStream();  // Cancels the stream and waits for its operations.

  // Sends `request` and waits for its response until `deadline`. A non-OK
  // status is the transport's (UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED
  // for a server without sessions, ...) and leaves the stream broken; the
  // call's own status is in response->code().
  absl::Status Call(const rpc::SessionRequest& request,
                    rpc::SessionResponse* response, absl::Time deadline);
  bool broken() const { return broken_; }
  // Lets gRPC read what arrived for the stream's connection while it was
  // idle (a reset, a GOAWAY), so that a stream that ended is known to have
  // ended before the next request is written to it.
  void CatchUp();
  // When the last call on this stream finished.
  absl::Time last_used() const { return last_used_; }
  // After a failed Call: true when its request never went out (the stream
  // had already ended, e.g. while idle), so the server did not see it.
  bool request_unsent() const { return write_failed_; }

 private:
  // Waits for every operation started so far; false when one failed.
  absl::Status Await(absl::Time deadline);
  // The stream's final status, after a failed operation.
  absl::Status Fail(absl::Time deadline);

  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<
      grpc::ClientAsyncReaderWriter<rpc::SessionRequest, rpc::SessionResponse>>
      stream_;
  int pending_ = 0;  // Operations started and not yet completed.
  // Tags telling the write's completion from the others'.
  char write_tag_ = 0;
  char other_tag_ = 0;
  bool write_failed_ = false;
  absl::Time last_used_ = absl::InfinitePast();
  bool broken_ = false;
  bool finishing_ = false;
};

// Idle sessions kept for reuse; at most one per concurrent caller is ever
// opened. Thread-safe.
class SessionPool {
 public:
  SessionPool(std::shared_ptr<grpc::Channel> channel, CallMetadata metadata)
      : stub_(rpc::ParameterServerSessions::NewStub(std::move(channel))),
        metadata_(std::move(metadata)) {}

  // Runs one call on an idle session (opening one when none is idle). An
  // idle session whose stream ended meanwhile (the server restarted, or
  // keepalive dropped the connection) is replaced by a new one, once, when
  // the request did not go out on it or when it may be repeated
  // (`idempotent`: the server may have seen it, e.g. a reuse).
  absl::Status Call(const rpc::SessionRequest& request,
                    rpc::SessionResponse* response, absl::Time deadline,
                    bool idempotent);

 private:
  const std::unique_ptr<rpc::ParameterServerSessions::Stub> stub_;
  const CallMetadata metadata_;  // Each stream's.
  Mutex mu_;
  std::vector<std::unique_ptr<SessionStream>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_SESSION_STREAM_H_
