#include "server/grpc_chunk_streams.h"

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/caller.h"
#include "server/grpc_auth.h"
#include "server/grpc_zero_copy.h"
#include "server/logging.h"
#include "wire/channel_settings.h"
#include "wire/grpc_status.h"
#include "wire/parse_budget.h"
#include "wire/proto_convert.h"
#include "wire/zero_copy_reader.h"
#include "wire/zero_copy_writer.h"

namespace paramserver {
namespace {

// Sends each chunk as a hand-encoded ValueChunk whose data slice points into
// the snapshot's buffer, so no tensor byte is copied before the socket.
class PullChunksReactor final
    : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  PullChunksReactor(VariableService* service, const TokenTable* tokens,
                    StreamWatchdog* watchdog,
                    grpc::CallbackServerContext* context,
                    const grpc::ByteBuffer& raw_request)
      : watchdog_(watchdog), context_(context) {
    // The token before parsing; the name once decoded.
    const Caller caller = AuthenticateCall(tokens, *context);
    rpc::PullChunksRequest request;
    absl::Status s = service->Admit(caller, Action::kRead, {});
    if (s.ok()) s = ParseRequest(raw_request, &request);
    absl::StatusOr<VariableStore::PullResult> pulled =
        s.ok() ? service->PullChunks(caller, request) : s;
    if (!pulled.ok()) {
      Finish(ToGrpcStatus(pulled.status()));
      return;
    }
    watchdog_->Add(context_);
    chunk_bytes_ =
        request.chunk_bytes() == 0
            ? kDefaultChunkBytes
            : std::clamp(request.chunk_bytes(), kMinChunkBytes, kMaxChunkBytes);
    result_ = *std::move(pulled);
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
    watchdog_->Touch(context_, chunk_.Length());
    WriteChunk(nullptr);
  }

  void OnDone() override {
    watchdog_->Remove(context_);
    delete this;
  }

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

  StreamWatchdog* const watchdog_;
  grpc::CallbackServerContext* const context_;
  int64_t chunk_bytes_ = kDefaultChunkBytes;
  VariableStore::PullResult result_;
  size_t size_ = 0;
  size_t offset_ = 0;
  grpc::ByteBuffer chunk_;  // In flight until OnWriteDone.
};

class PushChunksReactor final
    : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  PushChunksReactor(VariableService* service, const TokenTable* tokens,
                    StreamWatchdog* watchdog, PushBufferPool* buffers,
                    grpc::CallbackServerContext* context,
                    grpc::ByteBuffer* response)
      : service_(service),
        caller_(AuthenticateCall(tokens, *context)),
        watchdog_(watchdog),
        buffers_(buffers),
        context_(context),
        response_(response) {
    // A caller without a writer token is refused before any chunk is read.
    if (absl::Status s = service_->Admit(caller_, Action::kWrite, {});
        !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    watchdog_->Add(context_);
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Reading is over: from here on the idle limit must not cancel the
      // call, or a push that takes long to apply (waiting for locks, a large
      // fsync) would be applied while the client is told CANCELLED.
      watchdog_->Remove(context_);
      End(Apply());
      return;
    }
    if (absl::Status s = Take(); !s.ok()) {
      End(s);
      return;
    }
    // Only a chunk that was taken (the request, or data) counts as progress.
    watchdog_->Touch(context_, chunk_.Length());
    StartRead(&chunk_);
  }

  void OnDone() override {
    watchdog_->Remove(context_);
    delete this;
  }

 private:
  // Frees what the push held before the client learns its outcome, so the
  // memory counts as free once the call is over.
  void End(const absl::Status& status) {
    for (rpc::Update& update : *request_.mutable_updates()) {
      buffers_->Give(std::move(*update.mutable_value()));
    }
    rpc::PushRequest().Swap(&request_);
    reservation_.reset();
    if (!status.ok()) {
      Log(LogLevel::kDebug, "PushChunks from ", context_->peer(), ": ",
          status.ToString());
    }
    Finish(ToGrpcStatus(status));
  }

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

  // The first chunk: the whole request is checked, then memory for every
  // value is reserved, before any data is accepted.
  absl::Status TakeRequest(const std::string& bytes) {
    if (started_)
      return absl::InvalidArgumentError("Second request in one push.");
    started_ = true;
    // Costed before parsing: a 64 MiB request of empty updates would make
    // protobuf build some 30 million of them.
    google::protobuf::io::ArrayInputStream input(
        bytes.data(), static_cast<int>(bytes.size()));
    if (absl::Status s = CheckParseBudget(*rpc::PushRequest::descriptor(),
                                          bytes.size(), &input);
        !s.ok()) {
      return s;
    }
    if (!request_.ParseFromString(bytes)) {
      return absl::InvalidArgumentError("Malformed PushRequest in PushChunk.");
    }
    absl::StatusOr<VariableService::ChunkedPush> push =
        service_->StartChunkedPush(caller_, request_);
    if (!push.ok()) return push.status();
    reservation_.emplace(std::move(push->reservation));
    expected_bytes_ = std::move(push->value_bytes);
    for (int i = 0; i < request_.updates_size(); ++i) {
      // Whatever the request carried of the value is kept, in front.
      std::string* value = request_.mutable_updates(i)->mutable_value();
      std::string buffer = buffers_->Take(expected_bytes_[i]);
      buffer.append(*value);
      *value = std::move(buffer);
    }
    return absl::OkStatus();
  }

  // Appends the chunk's bytes to its update's value, straight from gRPC's
  // slices; chunks of one update must come in order.
  absl::Status TakeData(const WireReader& reader, const PushChunkView& chunk) {
    if (!started_) {
      return absl::InvalidArgumentError(
          "The first chunk must carry the request.");
    }
    if (chunk.index < 0 || chunk.index >= request_.updates_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Chunk for update ", chunk.index, " of ",
                       request_.updates_size(), "."));
    }
    // An empty chunk moves nothing; accepting it would let a client keep a
    // stream, and the memory reserved for it, alive past the idle limit.
    if (chunk.data.length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Chunk for update ", chunk.index, " carries no data."));
    }
    std::string* value = request_.mutable_updates(chunk.index)->mutable_value();
    if (chunk.offset != static_cast<int64_t>(value->size())) {
      return absl::InvalidArgumentError(
          absl::StrCat("Chunk at offset ", chunk.offset, " for update ",
                       chunk.index, " expected at ", value->size(), "."));
    }
    if (absl::Status s =
            CheckValueRoom(request_, chunk.index, expected_bytes_[chunk.index],
                           chunk.data.length);
        !s.ok()) {
      return s;
    }
    reader.AppendSpan(chunk.data, value);
    return absl::OkStatus();
  }

  // Called when reading ends. gRPC reports a client's half-close and a
  // cancelled call (client cancel, deadline, lost connection, the idle
  // watchdog) both as a failed read; only after a half-close is the push
  // complete and meant, so only then is it applied.
  absl::Status Apply() {
    if (context_->IsCancelled()) {
      return absl::CancelledError(
          "The PushChunks stream ended without a half-close (cancelled, past "
          "its deadline, or the connection was lost); nothing was applied.");
    }
    if (!started_) return absl::InvalidArgumentError("Empty push stream.");
    // Push checks the count and access again; they hold, as they did at the
    // first chunk.
    rpc::PushResponse response;
    if (absl::Status s = service_->Push(caller_, request_, &response);
        !s.ok()) {
      return s;
    }
    return SerializeMessage(response, response_);
  }

  VariableService* const service_;
  const Caller caller_;
  StreamWatchdog* const watchdog_;
  PushBufferPool* const buffers_;
  grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer* const response_;
  grpc::ByteBuffer chunk_;
  rpc::PushRequest request_;
  bool started_ = false;
  // Set by the first chunk: each update's size, and memory held for them.
  std::vector<size_t> expected_bytes_;
  std::optional<VariableStore::Reservation> reservation_;
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* NewPullChunksReactor(
    VariableService* service, const TokenTable* tokens,
    StreamWatchdog* watchdog, grpc::CallbackServerContext* context,
    const grpc::ByteBuffer* request) {
  return new PullChunksReactor(service, tokens, watchdog, context, *request);
}

grpc::ServerReadReactor<grpc::ByteBuffer>* NewPushChunksReactor(
    VariableService* service, const TokenTable* tokens,
    StreamWatchdog* watchdog, PushBufferPool* buffers,
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  return new PushChunksReactor(service, tokens, watchdog, buffers, context,
                               response);
}

}  // namespace paramserver
