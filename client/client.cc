#include "client/client.h"

#include <cstring>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "proto/parameter_server.grpc.pb.h"
#include "server/grpc_status.h"
#include "server/proto_convert.h"

namespace paramserver {

class ParameterServerStub {
 public:
  explicit ParameterServerStub(std::shared_ptr<grpc::Channel> channel)
      : stub(rpc::ParameterServer::NewStub(std::move(channel))) {}
  const std::unique_ptr<rpc::ParameterServer::Stub> stub;
};

namespace {

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

absl::StatusOr<std::vector<PulledValue>> ParameterServerClient::Pull(
    absl::Span<const PullItemSpec> items) {
  rpc::PullRequest request;
  for (const PullItemSpec& item : items) {
    rpc::PullItem* out = request.add_items();
    out->set_name(item.name);
    out->set_known_version(item.known_version);
  }
  request.set_max_inline_bytes(kInlineBytes);
  rpc::PullResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, options_.timeout);
  absl::Status status =
      FromGrpcStatus(stub_->stub->Pull(&context, request, &response));
  if (!status.ok()) return status;
  std::vector<PulledValue> pulled;
  pulled.reserve(response.variables_size());
  for (rpc::PulledVariable& variable : *response.mutable_variables()) {
    absl::StatusOr<VariableInfo> info = FromProto(variable.variable());
    if (!info.ok()) return info.status();
    pulled.push_back({*std::move(info), variable.unchanged(),
                      std::move(*variable.mutable_value())});
    if (variable.streamed()) {
      if (absl::Status s = PullStreamed(pulled.back()); !s.ok()) return s;
    }
  }
  return pulled;
}

absl::Status ParameterServerClient::PullStreamed(PulledValue& pulled) {
  rpc::PullChunksRequest request;
  request.set_name(pulled.info.name);
  request.set_chunk_bytes(kChunkBytes);
  grpc::ClientContext context;
  SetDeadline(&context, options_.timeout);
  std::unique_ptr<grpc::ClientReader<rpc::ValueChunk>> reader =
      stub_->stub->PullChunks(&context, request);
  rpc::ValueChunk chunk;
  while (reader->Read(&chunk)) {
    if (chunk.has_variable()) {
      absl::StatusOr<VariableInfo> info = FromProto(chunk.variable());
      if (!info.ok()) return info.status();
      pulled.info = *std::move(info);
      pulled.value.resize(*NumElements(pulled.info.shape) *
                          DTypeSize(pulled.info.dtype));
    }
    if (chunk.offset() < 0 ||
        chunk.offset() + chunk.data().size() > pulled.value.size()) {
      context.TryCancel();
      return absl::DataLossError("Chunk outside the value's bounds.");
    }
    std::memcpy(pulled.value.data() + chunk.offset(), chunk.data().data(),
                chunk.data().size());
  }
  return FromGrpcStatus(reader->Finish());
}

absl::StatusOr<std::vector<VariableInfo>> ParameterServerClient::Push(
    const PushSpec& push) {
  int64_t total = 0;
  for (const VariableUpdate& update : push.updates) total += update.value.size();
  if (total > kInlineBytes) return PushStreamed(push);
  rpc::PushRequest request;
  ToProto(push, &request);
  rpc::PushResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, options_.timeout);
  absl::Status status =
      FromGrpcStatus(stub_->stub->Push(&context, request, &response));
  if (!status.ok()) return status;
  return InfosFromProto(response.variables());
}

absl::StatusOr<std::vector<VariableInfo>> ParameterServerClient::PushStreamed(
    const PushSpec& push) {
  rpc::PushResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, options_.timeout);
  std::unique_ptr<grpc::ClientWriter<rpc::PushChunk>> writer =
      stub_->stub->PushChunks(&context, &response);
  rpc::PushChunk chunk;
  ToProto(push, chunk.mutable_request());
  for (rpc::Update& update : *chunk.mutable_request()->mutable_updates()) {
    update.clear_value();
  }
  bool open = writer->Write(chunk);
  chunk.clear_request();
  for (size_t i = 0; open && i < push.updates.size(); ++i) {
    const absl::string_view value = push.updates[i].value;
    for (size_t offset = 0; open && offset < value.size(); offset += kChunkBytes) {
      chunk.set_index(static_cast<int>(i));
      chunk.set_offset(static_cast<int64_t>(offset));
      const absl::string_view piece = value.substr(offset, kChunkBytes);
      chunk.set_data(piece.data(), piece.size());
      open = writer->Write(chunk);
    }
  }
  writer->WritesDone();
  absl::Status status = FromGrpcStatus(writer->Finish());
  if (!status.ok()) return status;
  return InfosFromProto(response.variables());
}

}  // namespace paramserver
