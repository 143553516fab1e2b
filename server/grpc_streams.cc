#include "server/grpc_streams.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/str_cat.h"
#include "server/grpc_auth.h"
#include "server/grpc_service.h"
#include "wire/grpc_status.h"
#include "server/grpc_zero_copy.h"
#include "wire/zero_copy_writer.h"
#include "wire/zero_copy_reader.h"
#include "server/logging.h"
#include "wire/parse_budget.h"
#include "wire/proto_convert.h"

namespace paramserver {
namespace {

// Sends each chunk as a hand-encoded ValueChunk whose data slice points into
// the snapshot's buffer, so no tensor byte is copied before the socket.
class PullChunksReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  PullChunksReactor(VariableStore* store, const TokenTable* tokens,
                    StreamWatchdog* watchdog,
                    grpc::CallbackServerContext* context,
                    const grpc::ByteBuffer& raw_request)
      : watchdog_(watchdog), context_(context) {
    // The token and role before parsing; the name once decoded.
    rpc::PullChunksRequest request;
    absl::Status s = CheckAccess(tokens, *context, Action::kRead, {});
    if (s.ok()) s = ParseRequest(raw_request, &request);
    if (s.ok()) s = CheckAccess(tokens, *context, Action::kRead, {request.name()});
    if (!s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    watchdog_->Add(context_);
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

class PushChunksReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  PushChunksReactor(VariableStore* store, const TokenTable* tokens,
                    StreamWatchdog* watchdog, grpc::CallbackServerContext* context,
                    grpc::ByteBuffer* response)
      : store_(store),
        tokens_(tokens),
        watchdog_(watchdog),
        context_(context),
        response_(response) {
    // A caller without a writer token is refused before any chunk is read.
    if (absl::Status s = CheckAccess(tokens_, *context_, Action::kWrite, {});
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
    if (started_) return absl::InvalidArgumentError("Second request in one push.");
    started_ = true;
    // Costed before parsing: a 64 MiB request of empty updates would make
    // protobuf build some 30 million of them.
    google::protobuf::io::ArrayInputStream input(bytes.data(),
                                                 static_cast<int>(bytes.size()));
    if (absl::Status s =
            CheckParseBudget(*rpc::PushRequest::descriptor(), bytes.size(), &input);
        !s.ok()) {
      return s;
    }
    if (!request_.ParseFromString(bytes)) {
      return absl::InvalidArgumentError("Malformed PushRequest in PushChunk.");
    }
    // Before anything is done per update.
    if (static_cast<size_t>(request_.updates_size()) > kMaxUpdatesPerPush) {
      return absl::InvalidArgumentError(
          absl::StrCat("A push may carry at most ", kMaxUpdatesPerPush,
                       " updates; this one has ", request_.updates_size(), "."));
    }
    if (absl::Status s = CheckPushAccess(tokens_, *context_, request_); !s.ok()) {
      return s;
    }
    absl::StatusOr<PushSpec> header = FromProto(request_);
    if (!header.ok()) return header.status();
    absl::StatusOr<std::vector<size_t>> sizes = store_->CheckPushHeader(*header);
    if (!sizes.ok()) return sizes.status();
    // The names are distinct variables, so the sum stays below the total limit.
    size_t total = 0;
    for (int i = 0; i < request_.updates_size(); ++i) {
      if (absl::Status s = CheckRoom(i, (*sizes)[i], 0); !s.ok()) return s;
      total += (*sizes)[i];
    }
    absl::StatusOr<VariableStore::Reservation> reserved = store_->Reserve(
        total, absl::StrCat("This push (", request_.updates_size(), " updates)"));
    if (!reserved.ok()) return reserved.status();
    reservation_.emplace(*std::move(reserved));
    expected_bytes_ = *std::move(sizes);
    for (int i = 0; i < request_.updates_size(); ++i) {
      request_.mutable_updates(i)->mutable_value()->reserve(expected_bytes_[i]);
    }
    return absl::OkStatus();
  }

  // INVALID_ARGUMENT unless update `index`, holding what it holds, has room
  // for `more` bytes of a value of `expected` bytes.
  absl::Status CheckRoom(int index, size_t expected, size_t more) const {
    const rpc::Update& update = request_.updates(index);
    if (update.value().size() + more <= expected) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(
        "Update ", index, " (", update.name(), ") would hold ",
        update.value().size() + more, " bytes; the variable has ", expected, "."));
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
    // An empty chunk moves nothing; accepting it would let a client keep a
    // stream, and the memory reserved for it, alive past the idle limit.
    if (chunk.data.length == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Chunk for update ", chunk.index, " carries no data."));
    }
    std::string* value = request_.mutable_updates(chunk.index)->mutable_value();
    if (chunk.offset != static_cast<int64_t>(value->size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Chunk at offset ", chunk.offset, " for update ", chunk.index,
          " expected at ", value->size(), "."));
    }
    if (absl::Status s =
            CheckRoom(chunk.index, expected_bytes_[chunk.index], chunk.data.length);
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
    absl::StatusOr<PushSpec> push = FromProto(request_);
    if (!push.ok()) return push.status();
    absl::StatusOr<std::vector<VariableInfo>> infos = store_->Push(*push);
    if (!infos.ok()) return infos.status();
    rpc::PushResponse response;
    for (const VariableInfo& info : *infos) ToProto(info, response.add_variables());
    return SerializeMessage(response, response_);
  }

  VariableStore* const store_;
  const TokenTable* const tokens_;
  StreamWatchdog* const watchdog_;
  grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer* const response_;
  grpc::ByteBuffer chunk_;
  rpc::PushRequest request_;
  bool started_ = false;
  // Set by the first chunk: each update's size, and memory held for them.
  std::vector<size_t> expected_bytes_;
  std::optional<VariableStore::Reservation> reservation_;
};

// Serves one call at a time: read, answer, write, read again. Calls run on
// gRPC's callback threads, as the unary handlers do.
class SessionReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  SessionReactor(VariableStore* store, const TokenTable* tokens,
                 SessionRegistry* registry, grpc::CallbackServerContext* context)
      : store_(store), tokens_(tokens), registry_(registry), context_(context) {
    // Any known token may open a session; each call's role is checked later.
    if (absl::Status s = CheckAccess(tokens_, *context_, Action::kRead, {});
        !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    if (!registry_->Add(context_)) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "The server is shutting down."));
      return;
    }
    StartRead(&raw_request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The client closed its side: the session is over.
      Finish(grpc::Status::OK);
      return;
    }
    rpc::SessionResponse response;
    absl::Status status = Serve(&response);
    if (!status.ok()) {
      response.Clear();
      response.set_code(static_cast<int>(status.code()));
      response.set_message(std::string(status.message()));
    }
    if (absl::Status s = SerializeMessage(response, &raw_response_); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    StartWrite(&raw_response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "Stream closed."));
      return;
    }
    StartRead(&raw_request_);
  }

  void OnDone() override {
    registry_->Remove(context_);
    delete this;
  }

 private:
  absl::Status Serve(rpc::SessionResponse* response) {
    rpc::SessionRequest request;
    if (absl::Status s = ParseRequest(raw_request_, &request); !s.ok()) return s;
    switch (request.call_case()) {
      case rpc::SessionRequest::kGetVariable: {
        absl::Status s =
            CheckGetVariableAccess(tokens_, *context_, request.get_variable());
        if (!s.ok()) return s;
        return HandleGetVariable(*store_, request.get_variable(),
                                 response->mutable_get_variable());
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
  grpc::ByteBuffer raw_request_;
  grpc::ByteBuffer raw_response_;  // In flight until OnWriteDone.
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

StreamWatchdog::StreamWatchdog(absl::Duration idle_limit,
                               int64_t min_bytes_per_second)
    : idle_limit_(idle_limit), min_bytes_per_second_(min_bytes_per_second) {
  if (idle_limit_ != absl::InfiniteDuration()) thread_ = std::thread([this] { Run(); });
}

StreamWatchdog::~StreamWatchdog() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  mu_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void StreamWatchdog::Add(grpc::CallbackServerContext* context) {
  const absl::Time now = absl::Now();
  MutexLock lock(&mu_);
  streams_[context] = Progress{now, now, 0};
}

void StreamWatchdog::Touch(grpc::CallbackServerContext* context, size_t bytes) {
  const absl::Time now = absl::Now();
  MutexLock lock(&mu_);
  auto it = streams_.find(context);
  if (it == streams_.end()) return;
  it->second.last = now;
  it->second.bytes += bytes;
}

void StreamWatchdog::Remove(grpc::CallbackServerContext* context) {
  MutexLock lock(&mu_);
  streams_.erase(context);
}

void StreamWatchdog::Run() {
  // A stream is cancelled between 1 and 1.25 idle limits after its last
  // progress (checks at least once a second).
  const absl::Duration period =
      std::clamp(idle_limit_ / 4, absl::Milliseconds(10), absl::Seconds(1));
  MutexLock lock(&mu_);
  while (!mu_.AwaitFor([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_; },
                       absl::ToChronoNanoseconds(period))) {
    CancelIdleLocked(absl::Now());
  }
}

std::string StreamWatchdog::CancelReason(const Progress& progress,
                                         absl::Time now) const {
  if (now - progress.last >= idle_limit_) {
    return absl::StrCat("no progress for ", absl::FormatDuration(now - progress.last),
                        " (limit ", absl::FormatDuration(idle_limit_), ")");
  }
  if (min_bytes_per_second_ <= 0) return "";
  // Time the bytes moved so far pay for at the floor rate, after the first
  // idle limit, which every stream gets.
  const absl::Duration paid_for =
      idle_limit_ + absl::Seconds(static_cast<double>(progress.bytes) /
                                  static_cast<double>(min_bytes_per_second_));
  if (now - progress.added < paid_for) return "";
  return absl::StrCat("moved ", progress.bytes, " bytes in ",
                      absl::FormatDuration(now - progress.added),
                      ", below the floor of ", min_bytes_per_second_,
                      " bytes per second after the first ",
                      absl::FormatDuration(idle_limit_));
}

void StreamWatchdog::CancelIdleLocked(absl::Time now) {
  // Under the lock, so no reactor can finish and free its context meanwhile
  // (as in SessionRegistry::CancelAll); each stream is cancelled once.
  for (auto it = streams_.begin(); it != streams_.end();) {
    const std::string reason = CancelReason(it->second, now);
    if (reason.empty()) {
      ++it;
      continue;
    }
    Log(LogLevel::kWarning, "Cancelled a chunk stream from ", it->first->peer(),
        ": ", reason, ".");
    it->first->TryCancel();
    streams_.erase(it++);
  }
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewSessionReactor(
    VariableStore* store, const TokenTable* tokens, SessionRegistry* registry,
    grpc::CallbackServerContext* context) {
  return new SessionReactor(store, tokens, registry, context);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* NewPullChunksReactor(
    VariableStore* store, const TokenTable* tokens, StreamWatchdog* watchdog,
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return new PullChunksReactor(store, tokens, watchdog, context, *request);
}

grpc::ServerReadReactor<grpc::ByteBuffer>* NewPushChunksReactor(
    VariableStore* store, const TokenTable* tokens, StreamWatchdog* watchdog,
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  return new PushChunksReactor(store, tokens, watchdog, context, response);
}

}  // namespace paramserver
