// A client that sends a whole PushChunks push (ASSIGN_ADD of ones to a
// float variable of 4 elements) and then neither half-closes nor goes away:
// tests kill it with SIGKILL mid-stream.
//
//   stalled_push_client TARGET TOKEN NAME
//
// Prints "sent" once every chunk is written, then sleeps.
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "proto/parameter_server.pb.h"
#include "wire/bearer_token.h"
#include "wire/zero_copy_writer.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s TARGET TOKEN NAME\n", argv[0]);
    return 2;
  }
  auto channel =
      grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  grpc::ClientContext context;
  paramserver::AddBearerToken(&context, argv[2]);
  grpc::ByteBuffer response;
  grpc::internal::RpcMethod method(
      "/paramserver.rpc.ParameterServer/PushChunks",
      grpc::internal::RpcMethod::CLIENT_STREAMING);
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
          channel.get(), method, &context, &response));
  paramserver::rpc::PushRequest request;
  request.add_updates()->set_name(argv[3]);
  request.mutable_updates(0)->set_kind(paramserver::rpc::Update::ASSIGN_ADD);
  const float ones[4] = {1, 1, 1, 1};
  const bool sent =
      writer->Write(paramserver::EncodePushChunk(&request, 0, 0, {})) &&
      writer->Write(paramserver::EncodePushChunk(
          nullptr, 0, 0,
          std::string(reinterpret_cast<const char*>(ones), sizeof(ones))));
  std::printf("%s\n", sent ? "sent" : "refused");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::minutes(10));
  return 0;
}
