#include "client/client.h"

#include <utility>

#include <grpcpp/grpcpp.h>

#include "proto/parameter_server.grpc.pb.h"
#include "server/proto_convert.h"

namespace paramserver {

class ParameterServerStub {
 public:
  explicit ParameterServerStub(std::shared_ptr<grpc::Channel> channel)
      : stub(rpc::ParameterServer::NewStub(std::move(channel))) {}
  const std::unique_ptr<rpc::ParameterServer::Stub> stub;
};

namespace {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

absl::StatusOr<std::vector<VariableInfo>> InfosFromProto(
    const google::protobuf::RepeatedPtrField<rpc::VariableInfo>& protos) {
  std::vector<VariableInfo> infos;
  infos.reserve(protos.size());
  for (const rpc::VariableInfo& proto : protos) {
    absl::StatusOr<VariableInfo> info = FromProto(proto);
    if (!info.ok()) return info.status();
    infos.push_back(*std::move(info));
  }
  return infos;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ParameterServerClient>>
ParameterServerClient::Connect(absl::string_view target,
                               const ClientOptions& options) {
  if (target.empty()) {
    return absl::InvalidArgumentError("The server address is empty.");
  }
  grpc::ChannelArguments args;
  // Variable values can be large; gRPC's default 4 MB receive cap must not
  // surface to users.
  args.SetMaxReceiveMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(
      std::string(target), grpc::InsecureChannelCredentials(), args);
  return std::unique_ptr<ParameterServerClient>(new ParameterServerClient(
      std::string(target), options,
      std::make_unique<ParameterServerStub>(std::move(channel))));
}

ParameterServerClient::ParameterServerClient(
    std::string target, ClientOptions options,
    std::unique_ptr<ParameterServerStub> stub)
    : target_(std::move(target)),
      options_(std::move(options)),
      stub_(std::move(stub)) {}

ParameterServerClient::~ParameterServerClient() = default;

namespace {

// Every call gets the client's deadline.
void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace

absl::StatusOr<FetchedVariable> ParameterServerClient::GetVariable(
    const VariableRequest& request, bool return_value) {
  rpc::GetVariableRequest proto;
  ToProto(request, &proto);
  proto.set_return_value(return_value);
  rpc::GetVariableResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, options_.timeout);
  absl::Status status =
      FromGrpcStatus(stub_->stub->GetVariable(&context, proto, &response));
  if (!status.ok()) return status;
  absl::StatusOr<VariableInfo> info = FromProto(response.variable());
  if (!info.ok()) return info.status();
  return FetchedVariable{*std::move(info), response.created(),
                         std::move(*response.mutable_value())};
}

absl::StatusOr<FetchedVariable> ParameterServerClient::ReadVariable(
    absl::string_view full_name) {
  rpc::ReadVariableRequest proto;
  proto.set_name(std::string(full_name));
  rpc::ReadVariableResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, options_.timeout);
  absl::Status status =
      FromGrpcStatus(stub_->stub->ReadVariable(&context, proto, &response));
  if (!status.ok()) return status;
  absl::StatusOr<VariableInfo> info = FromProto(response.variable());
  if (!info.ok()) return info.status();
  return FetchedVariable{*std::move(info), false,
                         std::move(*response.mutable_value())};
}

absl::StatusOr<std::vector<VariableInfo>> ParameterServerClient::ListVariables(
    absl::string_view prefix) {
  rpc::ListVariablesRequest proto;
  proto.set_prefix(std::string(prefix));
  rpc::ListVariablesResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, options_.timeout);
  absl::Status status =
      FromGrpcStatus(stub_->stub->ListVariables(&context, proto, &response));
  if (!status.ok()) return status;
  return InfosFromProto(response.variables());
}

namespace {

absl::StatusOr<std::vector<std::string>> Delete(
    rpc::ParameterServer::Stub& stub, const rpc::DeleteVariablesRequest& proto,
    absl::Duration timeout) {
  rpc::DeleteVariablesResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  absl::Status status =
      FromGrpcStatus(stub.DeleteVariables(&context, proto, &response));
  if (!status.ok()) return status;
  return std::vector<std::string>(response.deleted().begin(),
                                  response.deleted().end());
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParameterServerClient::DeleteVariable(
    absl::string_view full_name) {
  rpc::DeleteVariablesRequest proto;
  proto.set_name(std::string(full_name));
  return Delete(*stub_->stub, proto, options_.timeout);
}

absl::StatusOr<std::vector<std::string>> ParameterServerClient::DeleteScope(
    absl::string_view scope) {
  rpc::DeleteVariablesRequest proto;
  proto.set_scope(std::string(scope));
  return Delete(*stub_->stub, proto, options_.timeout);
}

}  // namespace paramserver
