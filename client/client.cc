#include "client/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/credentials.h"
#include "client/generic_call.h"
#include "client/session_stream.h"
#include "client/value_sink.h"
#include "proto/parameter_server.grpc.pb.h"
#include "wire/call_metadata.h"
#include "wire/channel_settings.h"
#include "wire/grpc_status.h"
#include "wire/lent_bytes.h"
#include "wire/proto_convert.h"
#include "wire/zero_copy_reader.h"
#include "wire/zero_copy_writer.h"

namespace paramserver {

// The generated stub, plus the generic one for Pull, PullChunks and
// PushChunks: their messages travel raw (client/generic_call.h), replies
// decoded from gRPC's slices (wire/zero_copy_reader.h) and chunks encoded by
// hand (EncodePushChunkSharing) over the caller's own memory, so tensor bytes
// are copied once, between the socket and their place.
class ParameterServerStub {
 public:
  static constexpr char kPull[] = "/paramserver.rpc.ParameterServer/Pull";
  static constexpr char kPullChunks[] =
      "/paramserver.rpc.ParameterServer/PullChunks";
  static constexpr char kPushChunks[] =
      "/paramserver.rpc.ParameterServer/PushChunks";

  ParameterServerStub(std::shared_ptr<grpc::Channel> channel,
                      CallMetadata metadata)
      : stub(rpc::ParameterServer::NewStub(channel)),
        generic(channel),
        sessions(channel, metadata),
        metadata(std::move(metadata)) {}

  const std::unique_ptr<rpc::ParameterServer::Stub> stub;
  grpc::GenericStub generic;
  // Small calls go over sessions, unless the server has none (an older
  // server answers UNIMPLEMENTED); then they stay unary.
  SessionPool sessions;
  std::atomic<bool> sessions_unsupported{false};
  const CallMetadata metadata;  // Every call's: token, expected place.
};

namespace {

// Keepalive floors (see ClientOptions).
constexpr absl::Duration kMinKeepaliveTime =
    absl::Milliseconds(kMinPingIntervalMs);
constexpr absl::Duration kMinKeepaliveTimeout =
    absl::Milliseconds(kMinKeepaliveTimeoutMs);

// `duration` in whole milliseconds for a channel argument, at least
// `floor`; INT_MAX (gRPC's "never") for durations beyond it.
int ClampedMillis(absl::Duration duration, absl::Duration floor) {
  const int64_t millis = absl::ToInt64Milliseconds(std::max(duration, floor));
  return static_cast<int>(
      std::min<int64_t>(millis, std::numeric_limits<int>::max()));
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
  // Transport settings for large values, the same on the server
  // (server/grpc_server.cc). Measured with run_data_plane_benchmark.sh on a
  // shared 2-core machine; run-to-run noise there is +-30%, so each choice
  // was A/B'd in alternating runs:
  // - A fixed 8 MiB HTTP/2 stream window with BDP probing off, instead of a
  //   window that BDP probing grows from 64 KiB: a new Pull stream can take
  //   a whole 1-4 MiB value without waiting for WINDOW_UPDATEs. Three
  //   alternating pairs: pull 1 MB +5..+32%, pull 64 MB +8..+19%. 8 MiB
  //   covers loopback and datacenter links; a long fat network would want
  //   more.
  // - HTTP/2 frames up to 16 MiB (the protocol's maximum) instead of 16 KiB:
  //   a 1 MiB chunk is one DATA frame rather than 64. Pull 64 MB ~+5%
  //   (within noise; kept for the framing work it removes).
  // - Socket reads of at least 256 KiB, starting at 1 MiB, rather than
  //   growing from 8 KiB: fewer read calls and slices per large message
  //   (within noise).
  // - Concurrent streams: gRPC's default (no limit) suits one client per
  //   worker process; nothing to set.
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, kMaxFrameBytes);
  args.SetInt(GRPC_ARG_TCP_MIN_READ_CHUNK_SIZE, kTcpMinReadChunkBytes);
  args.SetInt(GRPC_ARG_TCP_READ_CHUNK_SIZE, kTcpReadChunkBytes);
  // A server that went away (a shard restarting) is retried at most every
  // 5 s, not gRPC's default 120 s, so workers notice it is back soon after
  // it is: calls fail fast (UNAVAILABLE) while the channel waits to retry.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  // Keepalive (see ClientOptions). Pings go out while a long-lived session
  // or pull stream is open but idle, however long: no limit on pings
  // without data in between.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              ClampedMillis(options.keepalive_time, kMinKeepaliveTime));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              ClampedMillis(options.keepalive_timeout, kMinKeepaliveTimeout));
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  auto channel = grpc::CreateCustomChannel(
      std::string(target), MakeChannelCredentials(options), args);
  return std::unique_ptr<ParameterServerClient>(new ParameterServerClient(
      std::string(target), options,
      std::make_unique<ParameterServerStub>(
          std::move(channel),
          MakeCallMetadata(options.token, options.expected_place))));
}

ParameterServerClient::ParameterServerClient(
    std::string target, ClientOptions options,
    std::unique_ptr<ParameterServerStub> stub)
    : target_(std::move(target)),
      options_(std::move(options)),
      stub_(std::move(stub)) {}

ParameterServerClient::~ParameterServerClient() = default;

namespace {

// Every call gets the client's deadline, token and expected place.
void Prepare(grpc::ClientContext* context, const ClientOptions& options,
             const CallMetadata& metadata) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  AddCallMetadata(context, metadata);
}

}  // namespace

absl::StatusOr<FetchedVariable> ParameterServerClient::GetVariable(
    const VariableRequest& request, bool return_value) {
  rpc::SessionRequest session_request;
  rpc::GetVariableRequest& proto = *session_request.mutable_get_variable();
  ToProto(request, &proto);
  proto.set_return_value(return_value);
  // Reading a message clears it first, so the result is taken afterwards.
  rpc::SessionResponse session_response;
  rpc::GetVariableResponse unary_response;
  rpc::GetVariableResponse* response = nullptr;
  absl::Status status;
  if (!stub_->sessions_unsupported.load(std::memory_order_relaxed)) {
    // Only a create may not be repeated: a repeat after a lost response
    // would fail with "already exists". (A repeated auto-reuse whose lost
    // first attempt created the variable reports created = false.)
    const bool idempotent = request.reuse != ReuseMode::kCreate;
    status = stub_->sessions.Call(session_request, &session_response,
                                  absl::Now() + options_.timeout, idempotent);
    if (status.ok()) {
      status = StatusFromFields(session_response);
      response = session_response.mutable_get_variable();
    } else if (absl::IsUnimplemented(status)) {
      stub_->sessions_unsupported = true;
    }
  }
  if (stub_->sessions_unsupported.load(std::memory_order_relaxed)) {
    grpc::ClientContext context;
    Prepare(&context, options_, stub_->metadata);
    status = FromGrpcStatus(
        stub_->stub->GetVariable(&context, proto, &unary_response));
    response = &unary_response;
  }
  if (!status.ok()) return status;
  absl::StatusOr<VariableInfo> info = FromProto(response->variable());
  if (!info.ok()) return info.status();
  return FetchedVariable{*std::move(info), response->created(),
                         std::move(*response->mutable_value())};
}

absl::StatusOr<FetchedVariable> ParameterServerClient::ReadVariable(
    absl::string_view full_name) {
  rpc::ReadVariableRequest proto;
  proto.set_name(std::string(full_name));
  rpc::ReadVariableResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status =
      FromGrpcStatus(stub_->stub->ReadVariable(&context, proto, &response));
  if (!status.ok()) return status;
  absl::StatusOr<VariableInfo> info = FromProto(response.variable());
  if (!info.ok()) return info.status();
  return FetchedVariable{*std::move(info), false,
                         std::move(*response.mutable_value())};
}

absl::StatusOr<GatheredRows> ParameterServerClient::GatherRows(
    absl::string_view full_name, absl::Span<const int64_t> ids) {
  return ReadRows(full_name, ids, TableRead::kLookup);
}

absl::StatusOr<GatheredRows> ParameterServerClient::PeekRows(
    absl::string_view full_name, absl::Span<const int64_t> ids) {
  return ReadRows(full_name, ids, TableRead::kPeek);
}

absl::StatusOr<GatheredRows> ParameterServerClient::ReadRows(
    absl::string_view full_name, absl::Span<const int64_t> ids,
    TableRead read) {
  rpc::GatherRowsRequest proto;
  proto.set_name(std::string(full_name));
  proto.mutable_ids()->Add(ids.begin(), ids.end());
  proto.set_peek(read == TableRead::kPeek);
  rpc::GatherRowsResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status =
      FromGrpcStatus(stub_->stub->GatherRows(&context, proto, &response));
  if (!status.ok()) return status;
  absl::StatusOr<VariableInfo> info = FromProto(response.variable());
  if (!info.ok()) return info.status();
  return GatheredRows{*std::move(info), std::move(*response.mutable_rows())};
}

absl::StatusOr<GatheredRows> ParameterServerClient::LookupSparse(
    absl::string_view full_name, absl::Span<const int64_t> ids,
    const BagSpec& bags) {
  rpc::LookupSparseRequest proto;
  proto.set_name(std::string(full_name));
  proto.mutable_ids()->Add(ids.begin(), ids.end());
  ToProto(bags, proto.mutable_bags());
  rpc::GatherRowsResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status =
      FromGrpcStatus(stub_->stub->LookupSparse(&context, proto, &response));
  if (!status.ok()) return status;
  absl::StatusOr<VariableInfo> info = FromProto(response.variable());
  if (!info.ok()) return info.status();
  return GatheredRows{*std::move(info), std::move(*response.mutable_rows())};
}

absl::StatusOr<TableStatus> ParameterServerClient::GetTable(
    const TableRequest& request) {
  rpc::GetTableRequest proto;
  proto.set_name(request.name);
  proto.set_reuse(request.reuse == ReuseMode::kCreate  ? rpc::CREATE
                  : request.reuse == ReuseMode::kReuse ? rpc::REUSE
                                                       : rpc::AUTO_REUSE);
  ToProto(request.spec, proto.mutable_spec());
  rpc::GetTableResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status =
      FromGrpcStatus(stub_->stub->GetTable(&context, proto, &response));
  if (!status.ok()) return status;
  return FromProto(response);
}

absl::StatusOr<TableStatus> ParameterServerClient::GetTableStats(
    absl::string_view name) {
  rpc::TableStatsRequest proto;
  proto.set_name(std::string(name));
  rpc::GetTableResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status =
      FromGrpcStatus(stub_->stub->GetTableStats(&context, proto, &response));
  if (!status.ok()) return status;
  return FromProto(response);
}

absl::StatusOr<VariableInfo> ParameterServerClient::PushRows(
    const RowUpdateSpec& push) {
  rpc::PushRowsRequest request;
  ToProto(push, &request);
  rpc::PushRowsResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status =
      FromGrpcStatus(stub_->stub->PushRows(&context, request, &response));
  if (!status.ok()) return status;
  return FromProto(response.variable());
}

absl::StatusOr<ServerInfo> ParameterServerClient::GetServerInfo() {
  rpc::ServerInfoResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status = FromGrpcStatus(stub_->stub->GetServerInfo(
      &context, rpc::ServerInfoRequest(), &response));
  if (!status.ok()) return status;
  ServerInfo info;
  info.place = {response.job(), response.shard_index(), response.shard_count()};
  info.incarnation = response.incarnation();
  info.num_variables = response.num_variables();
  info.cluster = response.cluster();
  return info;
}

absl::StatusOr<std::string> ParameterServerClient::JoinCluster(
    absl::string_view cluster) {
  rpc::JoinClusterRequest request;
  request.set_cluster(std::string(cluster));
  rpc::JoinClusterResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status =
      FromGrpcStatus(stub_->stub->JoinCluster(&context, request, &response));
  if (!status.ok()) return status;
  return response.cluster();
}

absl::StatusOr<std::vector<VariableInfo>> ParameterServerClient::ListVariables(
    absl::string_view prefix) {
  rpc::ListVariablesRequest proto;
  proto.set_prefix(std::string(prefix));
  rpc::ListVariablesResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status =
      FromGrpcStatus(stub_->stub->ListVariables(&context, proto, &response));
  if (!status.ok()) return status;
  return InfosFromProto(response.variables());
}

namespace {

absl::StatusOr<std::vector<std::string>> Delete(
    ParameterServerStub& stub, const rpc::DeleteVariablesRequest& proto,
    const ClientOptions& options) {
  rpc::DeleteVariablesResponse response;
  grpc::ClientContext context;
  Prepare(&context, options, stub.metadata);
  absl::Status status =
      FromGrpcStatus(stub.stub->DeleteVariables(&context, proto, &response));
  if (!status.ok()) return status;
  return std::vector<std::string>(response.deleted().begin(),
                                  response.deleted().end());
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParameterServerClient::DeleteVariable(
    absl::string_view full_name) {
  rpc::DeleteVariablesRequest proto;
  proto.set_name(std::string(full_name));
  return Delete(*stub_, proto, options_);
}

absl::StatusOr<std::vector<std::string>> ParameterServerClient::DeleteScope(
    absl::string_view scope) {
  rpc::DeleteVariablesRequest proto;
  proto.set_scope(std::string(scope));
  return Delete(*stub_, proto, options_);
}

absl::StatusOr<std::vector<PulledValue>> ParameterServerClient::Pull(
    absl::Span<const PullItemSpec> items) {
  std::vector<PulledValue> pulled(items.size());
  absl::StatusOr<std::vector<PulledInto>> infos = PullToSinks(
      items, [&](size_t i) { return ValueSink::IntoString(&pulled[i].value); });
  if (!infos.ok()) return infos.status();
  for (size_t i = 0; i < items.size(); ++i) {
    pulled[i].info = std::move((*infos)[i].info);
    pulled[i].unchanged = (*infos)[i].unchanged;
  }
  return pulled;
}

absl::StatusOr<std::vector<PulledInto>> ParameterServerClient::PullInto(
    absl::Span<const PullIntoItem> items) {
  std::vector<PullItemSpec> specs;
  specs.reserve(items.size());
  for (const PullIntoItem& item : items) {
    specs.push_back({item.name, item.known_version});
  }
  return PullToSinks(
      specs, [&](size_t i) { return ValueSink::IntoBuffer(items[i].buffer); });
}

absl::StatusOr<std::vector<PulledInto>> ParameterServerClient::PullToSinks(
    absl::Span<const PullItemSpec> items,
    absl::FunctionRef<ValueSink(size_t)> sink_for) {
  rpc::PullRequest request;
  for (const PullItemSpec& item : items) {
    rpc::PullItem* out = request.add_items();
    out->set_name(item.name);
    out->set_known_version(item.known_version);
  }
  request.set_max_inline_bytes(kInlineBytes);
  grpc::ByteBuffer request_buffer;
  if (absl::Status s = SerializeMessage(request, &request_buffer); !s.ok()) {
    return s;
  }
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status = FromGrpcStatus(
      GenericUnaryCall(stub_->generic, &context, ParameterServerStub::kPull,
                       request_buffer, &response));
  if (!status.ok()) return status;
  absl::StatusOr<WireReader> reader = WireReader::Create(response);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::vector<PulledVariableView>> views =
      DecodePullResponse(*reader);
  if (!views.ok()) return views.status();
  if (views->size() != items.size()) {
    return absl::DataLossError(
        absl::StrCat("The server answered ", views->size(), " values for ",
                     items.size(), " pulled variables."));
  }
  std::vector<PulledInto> pulled;
  pulled.reserve(views->size());
  for (size_t i = 0; i < views->size(); ++i) {
    const PulledVariableView& view = (*views)[i];
    absl::StatusOr<VariableInfo> info = FromProto(view.variable);
    if (!info.ok()) return info.status();
    PulledInto& out = pulled.emplace_back();
    out.info = *std::move(info);
    out.unchanged = view.unchanged;
    if (view.streamed) {
      ValueSink sink = sink_for(i);
      if (absl::Status s = PullStreamed(out.info, sink); !s.ok()) return s;
    } else if (view.unchanged) {
      // Nothing to write, but a buffer of the wrong size is still an error.
      if (absl::Status s = sink_for(i).Check(out.info); !s.ok()) return s;
    } else {
      ValueSink sink = sink_for(i);
      if (absl::Status s = sink.Begin(out.info); !s.ok()) return s;
      if (view.value.length != sink.size()) {
        return absl::DataLossError(absl::StrCat(
            "Value of ", out.info.name, " has ", view.value.length,
            " bytes; its shape and dtype need ", sink.size(), "."));
      }
      if (absl::Status s = sink.Place(*reader, view.value, 0); !s.ok()) {
        return s;
      }
    }
  }
  return pulled;
}

absl::Status ParameterServerClient::PullStreamed(VariableInfo& info,
                                                 ValueSink& sink) {
  rpc::PullChunksRequest request;
  request.set_name(info.name);
  request.set_chunk_bytes(kChunkBytes);
  grpc::ByteBuffer request_buffer;
  if (absl::Status s = SerializeMessage(request, &request_buffer); !s.ok()) {
    return s;
  }
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  // PullChunks streams from the server: one request, then chunks; the first
  // describes the value.
  GenericStreamCall call(stub_->generic, &context,
                         ParameterServerStub::kPullChunks);
  call.WriteLast(request_buffer);  // A failure shows in Read and Finish.
  grpc::ByteBuffer buffer;
  bool described = false;
  while (call.Read(&buffer)) {
    absl::StatusOr<WireReader> wire = WireReader::Create(buffer);
    absl::StatusOr<ValueChunkView> chunk =
        wire.ok() ? DecodeValueChunk(*wire) : wire.status();
    absl::Status status = chunk.status();
    if (status.ok() && chunk->has_variable) {
      absl::StatusOr<VariableInfo> described_info = FromProto(chunk->variable);
      status = described_info.status();
      if (status.ok()) {
        info = *std::move(described_info);
        status = sink.Begin(info);
        described = true;
      }
    } else if (status.ok() && !described) {
      status = absl::DataLossError(
          "The first chunk of a PullChunks stream did not describe the value.");
    }
    if (status.ok()) status = sink.Place(*wire, chunk->data, chunk->offset);
    if (!status.ok()) {
      context.TryCancel();
      return status;
    }
  }
  absl::Status status = FromGrpcStatus(call.Finish());
  if (status.ok() && (!described || sink.received() != sink.size())) {
    return absl::DataLossError("The stream ended before the whole value came.");
  }
  return status;
}

absl::StatusOr<std::vector<VariableInfo>> ParameterServerClient::Push(
    const PushSpec& push) {
  if (push.push_id.empty()) {
    PushSpec named = push;
    named.push_id = NewPushId();
    return Push(named);
  }
  int64_t total = 0;
  for (const VariableUpdate& update : push.updates)
    total += update.value.size();
  if (total > kInlineBytes) return PushStreamed(push);
  rpc::PushRequest request;
  ToProto(push, &request);
  rpc::PushResponse response;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  absl::Status status =
      FromGrpcStatus(stub_->stub->Push(&context, request, &response));
  if (!status.ok()) return status;
  return InfosFromProto(response.variables());
}

absl::StatusOr<std::vector<VariableInfo>> ParameterServerClient::PushStreamed(
    const PushSpec& push) {
  // Declared first, so destroyed last: its destructor waits until gRPC has
  // let go of every slice over the caller's values, which can be after the
  // call and its context are gone.
  LentBytes lent;
  grpc::ClientContext context;
  Prepare(&context, options_, stub_->metadata);
  // PushChunks streams to the server: chunks, then one response.
  GenericStreamCall call(stub_->generic, &context,
                         ParameterServerStub::kPushChunks);
  // The first chunk carries the request without values (not copied here).
  PushSpec without_values = push;
  for (VariableUpdate& update : without_values.updates) update.value = {};
  rpc::PushRequest request;
  ToProto(without_values, &request);
  bool open = call.Write(EncodePushChunk(&request, 0, 0, {}));
  for (size_t i = 0; open && i < push.updates.size(); ++i) {
    const absl::string_view value = push.updates[i].value;
    for (size_t offset = 0; open && offset < value.size();
         offset += kChunkBytes) {
      open = call.Write(EncodePushChunkSharing(
          nullptr, static_cast<int>(i), static_cast<int64_t>(offset),
          lent.Lend(value.substr(offset, kChunkBytes))));
    }
  }
  call.WritesDone();
  grpc::ByteBuffer reply;
  const bool replied = call.Read(&reply);
  absl::Status status = FromGrpcStatus(call.Finish());
  if (!status.ok()) return status;
  rpc::PushResponse response;
  if (!replied || !grpc::SerializationTraits<rpc::PushResponse>::Deserialize(
                       &reply, &response)
                       .ok()) {
    return absl::InternalError("Malformed PushChunks response.");
  }
  return InfosFromProto(response.variables());
}

}  // namespace paramserver
