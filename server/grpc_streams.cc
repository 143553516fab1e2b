#include "server/grpc_streams.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/grpc_auth.h"
#include "server/grpc_service.h"
#include "server/grpc_status.h"
#include "server/grpc_zero_copy.h"
#include "server/grpc_zero_copy_reader.h"
#include "server/proto_convert.h"

namespace paramserver {
namespace {

// Sends each chunk as a hand-encoded ValueChunk whose data slice points into
// the snapshot's buffer, so no tensor byte is copied before the socket.
class PullChunksReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  PullChunksReactor(VariableStore* store, const TokenTable* tokens,
                    const grpc::CallbackServerContext& context,
                    const grpc::ByteBuffer& raw_request) {
    // The token and role before parsing; the name once decoded.
    rpc::PullChunksRequest request;
    absl::Status s = CheckAccess(tokens, context, Action::kRead, {});
    if (s.ok()) s = ParseRequest(raw_request, &request);
    if (s.ok()) s = CheckAccess(tokens, context, Action::kRead, {request.name()});
    if (!s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    chunk_bytes_ = request.chunk_bytes() == 0
                       ? kDefaultChunkBytes
                       : std::clamp(request.chunk_bytes(), kMinChunkBytes,
                                    kMaxChunkBytes);
    absl::StatusOr<std::vector<VariableStore::PullResult>> pulled =
        store->Pull({{request.name(), request.known_version()}});
    if (!pulled.ok()) {
      Finish(ToGrpcStatus(pulled.status()));
      return;
    }
    result_ = std::move((*pulled)[0]);
    size_ = result_.value == nullptr ? 0 : result_.value->size();
    rpc::VariableInfo info;
    ToProto(result_.info, &info);
    WriteChunk(&info);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "Stream closed."));
      return;
    }
    WriteChunk(nullptr);
  }

  void OnDone() override { delete this; }

 private:
  // Writes the chunk at offset_; the last one goes out with the status. The
  // first chunk always goes out, with the metadata, even for an empty value.
  void WriteChunk(const rpc::VariableInfo* info) {
    const size_t length = std::min<size_t>(chunk_bytes_, size_ - offset_);
    chunk_ = EncodeValueChunk(info, info != nullptr && result_.unchanged,
                              result_.value, offset_, length);
    offset_ += length;
    if (offset_ >= size_) {
      StartWriteAndFinish(&chunk_, grpc::WriteOptions(), grpc::Status::OK);
    } else {
      StartWrite(&chunk_);
    }
  }

  int64_t chunk_bytes_ = kDefaultChunkBytes;
  VariableStore::PullResult result_;
  size_t size_ = 0;
  size_t offset_ = 0;
  grpc::ByteBuffer chunk_;  // In flight until OnWriteDone.
};

class PushChunksReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  PushChunksReactor(VariableStore* store, const TokenTable* tokens,
                    const grpc::CallbackServerContext* context,
                    grpc::ByteBuffer* response)
      : store_(store), tokens_(tokens), context_(context), response_(response) {
    // A caller without a writer token is refused before any chunk is read.
    if (absl::Status s = CheckAccess(tokens_, *context_, Action::kWrite, {});
        !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The client has sent everything.
      Finish(ToGrpcStatus(Apply()));
      return;
    }
    if (absl::Status s = Take(); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    StartRead(&chunk_);
  }

  void OnDone() override { delete this; }

 private:
  absl::Status Take() {
    absl::StatusOr<WireReader> reader = WireReader::Create(chunk_);
    absl::StatusOr<PushChunkView> chunk =
        reader.ok() ? DecodePushChunk(*reader) : reader.status();
    if (!chunk.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("PushChunk: ", chunk.status().message()));
    }
    if (chunk->has_request) return TakeRequest(chunk->request);
    return TakeData(*reader, *chunk);
  }

  // The first chunk: the request, with room reserved for every value.
  absl::Status TakeRequest(const std::string& bytes) {
    if (started_) return absl::InvalidArgumentError("Second request in one push.");
    started_ = true;
    if (!request_.ParseFromString(bytes)) {
      return absl::InvalidArgumentError("Malformed PushRequest in PushChunk.");
    }
    // Before any room is reserved: an unauthorized push costs no memory.
    if (absl::Status s = CheckPushAccess(tokens_, *context_, request_); !s.ok()) {
      return s;
    }
    for (rpc::Update& update : *request_.mutable_updates()) {
      absl::StatusOr<VariableSnapshot> current = store_->ReadVariable(update.name());
      if (!current.ok() || current->value == nullptr) continue;  // Push reports it.
      update.mutable_value()->reserve(
          std::min(current->value->size(), store_->max_variable_bytes()));
    }
    return absl::OkStatus();
  }

  // Appends the chunk's bytes to its update's value, straight from gRPC's
  // slices; chunks of one update must come in order.
  absl::Status TakeData(const WireReader& reader, const PushChunkView& chunk) {
    if (!started_) {
      return absl::InvalidArgumentError("The first chunk must carry the request.");
    }
    if (chunk.index < 0 || chunk.index >= request_.updates_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Chunk for update ", chunk.index, " of ",
                       request_.updates_size(), "."));
    }
    std::string* value = request_.mutable_updates(chunk.index)->mutable_value();
    if (chunk.offset != static_cast<int64_t>(value->size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Chunk at offset ", chunk.offset, " for update ", chunk.index,
          " expected at ", value->size(), "."));
    }
    if (value->size() + chunk.data.length > store_->max_variable_bytes()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Update ", chunk.index, " is larger than any variable can be (",
          store_->max_variable_bytes(), " bytes)."));
    }
    reader.AppendSpan(chunk.data, value);
    return absl::OkStatus();
  }

  absl::Status Apply() {
    if (!started_) return absl::InvalidArgumentError("Empty push stream.");
    absl::StatusOr<PushSpec> push = FromProto(request_);
    if (!push.ok()) return push.status();
    absl::StatusOr<std::vector<VariableInfo>> infos = store_->Push(*push);
    if (!infos.ok()) return infos.status();
    rpc::PushResponse response;
    for (const VariableInfo& info : *infos) ToProto(info, response.add_variables());
    bool own_buffer;
    grpc::Status serialized = grpc::SerializationTraits<rpc::PushResponse>::Serialize(
        response, response_, &own_buffer);
    return absl::Status(static_cast<absl::StatusCode>(serialized.error_code()),
                        serialized.error_message());
  }

  VariableStore* const store_;
  const TokenTable* const tokens_;
  const grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer* const response_;
  grpc::ByteBuffer chunk_;
  rpc::PushRequest request_;
  bool started_ = false;
};

// Serves one call at a time: read, answer, write, read again. Calls run on
// gRPC's callback threads, as the unary handlers do.
class SessionReactor final
    : public grpc::ServerBidiReactor<rpc::SessionRequest, rpc::SessionResponse> {
 public:
  SessionReactor(VariableStore* store, const TokenTable* tokens,
                 SessionRegistry* registry, grpc::CallbackServerContext* context)
      : store_(store), tokens_(tokens), registry_(registry), context_(context) {
    if (!registry_->Add(context_)) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "The server is shutting down."));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The client closed its side: the session is over.
      Finish(grpc::Status::OK);
      return;
    }
    response_.Clear();
    const absl::Status status = Serve();
    if (!status.ok()) {
      response_.Clear();
      response_.set_code(static_cast<int>(status.code()));
      response_.set_message(std::string(status.message()));
    }
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "Stream closed."));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override {
    registry_->Remove(context_);
    delete this;
  }

 private:
  absl::Status Serve() {
    switch (request_.call_case()) {
      case rpc::SessionRequest::kGetVariable: {
        absl::Status s =
            CheckGetVariableAccess(tokens_, *context_, request_.get_variable());
        if (!s.ok()) return s;
        return HandleGetVariable(*store_, request_.get_variable(),
                                 response_.mutable_get_variable());
      }
      case rpc::SessionRequest::CALL_NOT_SET:
        break;
    }
    return absl::UnimplementedError("Unknown or empty session call.");
  }

  VariableStore* const store_;
  const TokenTable* const tokens_;
  SessionRegistry* const registry_;
  grpc::CallbackServerContext* const context_;
  rpc::SessionRequest request_;
  rpc::SessionResponse response_;
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

void SessionRegistry::CancelAll() {
  // Under the lock, so no reactor can finish and free its context meanwhile.
  // gRPC runs the reactions that follow on its own threads, not in here.
  MutexLock lock(&mu_);
  cancelled_ = true;
  for (grpc::CallbackServerContext* context : open_) context->TryCancel();
}

grpc::ServerBidiReactor<rpc::SessionRequest, rpc::SessionResponse>*
NewSessionReactor(VariableStore* store, const TokenTable* tokens,
                  SessionRegistry* registry,
                  grpc::CallbackServerContext* context) {
  return new SessionReactor(store, tokens, registry, context);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* NewPullChunksReactor(
    VariableStore* store, const TokenTable* tokens,
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return new PullChunksReactor(store, tokens, *context, *request);
}

grpc::ServerReadReactor<grpc::ByteBuffer>* NewPushChunksReactor(
    VariableStore* store, const TokenTable* tokens,
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  return new PushChunksReactor(store, tokens, context, response);
}

}  // namespace paramserver
