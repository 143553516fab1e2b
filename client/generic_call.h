#ifndef PARAM_SERVER_CLIENT_GENERIC_CALL_H_
#define PARAM_SERVER_CLIENT_GENERIC_CALL_H_

// Blocking calls over gRPC's public generic stub (grpc::GenericStub), for the
// data-plane methods whose messages travel raw, as grpc::ByteBuffer, so that
// tensor bytes are copied once (wire/zero_copy_reader.h, zero_copy_writer.h).
//
// Each call has a completion queue of its own and is driven on the calling
// thread, operation by operation, as gRPC's synchronous API drives its calls:
// no thread hop, no shared queue. The ClientContext's deadline, metadata and
// TryCancel apply as to any call. Not thread-safe: one thread per call.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace paramserver {

// A unary call of `method` ("/package.Service/Method"). The status is the
// server's, or gRPC's for a call that failed before or without an answer.
grpc::Status GenericUnaryCall(grpc::GenericStub& stub,
                              grpc::ClientContext* context,
                              const std::string& method,
                              const grpc::ByteBuffer& request,
                              grpc::ByteBuffer* response);

// A streaming call of `method`. On the wire a stream is the same whatever
// the method declares, so this one type serves a server-streaming method
// (WriteLast the request, then Read until false) and a client-streaming one
// (Write the messages, WritesDone, then Read the one response).
//
// Every operation waits for its completion. Write and Read return false once
// the stream is over or broken; Finish then tells why. `context` must
// outlive the call.
class GenericStreamCall {
 public:
  // Starts the call; its headers go out with the first message.
  GenericStreamCall(grpc::GenericStub& stub, grpc::ClientContext* context,
                    const std::string& method);
  // Without Finish, cancels the call and waits for it to end.
  ~GenericStreamCall();

  GenericStreamCall(const GenericStreamCall&) = delete;
  GenericStreamCall& operator=(const GenericStreamCall&) = delete;

  bool Write(const grpc::ByteBuffer& message);
  // Writes `message` and half-closes, in one operation.
  bool WriteLast(const grpc::ByteBuffer& message);
  // Half-closes: the server's reads end.
  bool WritesDone();
  bool Read(grpc::ByteBuffer* message);
  // The call's status; at most once, after which no operation may follow.
  grpc::Status Finish();

 private:
  // Waits for the one operation in flight; its ok bit.
  bool Await();

  grpc::ClientContext* const context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> stream_;
  bool finished_ = false;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_GENERIC_CALL_H_
