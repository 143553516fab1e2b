#include "server/grpc_streams.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "server/proto_convert.h"

namespace paramserver {
namespace {

class PullChunksReactor final : public grpc::ServerWriteReactor<rpc::ValueChunk> {
 public:
  PullChunksReactor(VariableStore* store, const rpc::PullChunksRequest& request) {
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
    ToProto(result_.info, chunk_.mutable_variable());
    chunk_.set_unchanged(result_.unchanged);
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "Stream closed."));
      return;
    }
    chunk_.clear_variable();
    chunk_.clear_unchanged();
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  // Writes the chunk at offset_, or finishes after the last one. The first
  // chunk always goes out, with the metadata, even for an empty value.
  void WriteNext() {
    const int64_t size =
        result_.value == nullptr ? 0 : static_cast<int64_t>(result_.value->size());
    if (offset_ >= size && !chunk_.has_variable()) {
      Finish(grpc::Status::OK);
      return;
    }
    const int64_t length = std::min(chunk_bytes_, size - offset_);
    chunk_.set_offset(offset_);
    chunk_.set_data(size == 0 ? nullptr : result_.value->data() + offset_, length);
    offset_ += length;
    StartWrite(&chunk_);
  }

  int64_t chunk_bytes_ = kDefaultChunkBytes;
  VariableStore::PullResult result_;
  rpc::ValueChunk chunk_;
  int64_t offset_ = 0;
};

class PushChunksReactor final : public grpc::ServerReadReactor<rpc::PushChunk> {
 public:
  PushChunksReactor(VariableStore* store, rpc::PushResponse* response)
      : store_(store), response_(response) {
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
  // Appends the chunk's bytes to its update's value; chunks of one update
  // must come in order.
  absl::Status Take() {
    if (chunk_.has_request()) {
      if (started_) return absl::InvalidArgumentError("Second request in one push.");
      started_ = true;
      request_ = std::move(*chunk_.mutable_request());
      return absl::OkStatus();
    }
    if (!started_) {
      return absl::InvalidArgumentError("The first chunk must carry the request.");
    }
    if (chunk_.index() < 0 || chunk_.index() >= request_.updates_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Chunk for update ", chunk_.index(), " of ",
                       request_.updates_size(), "."));
    }
    std::string* value = request_.mutable_updates(chunk_.index())->mutable_value();
    if (chunk_.offset() != static_cast<int64_t>(value->size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Chunk at offset ", chunk_.offset(), " for update ", chunk_.index(),
          " expected at ", value->size(), "."));
    }
    if (value->size() + chunk_.data().size() > store_->max_variable_bytes()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Update ", chunk_.index(), " is larger than any variable can be (",
          store_->max_variable_bytes(), " bytes)."));
    }
    value->append(chunk_.data());
    return absl::OkStatus();
  }

  absl::Status Apply() {
    if (!started_) return absl::InvalidArgumentError("Empty push stream.");
    absl::StatusOr<PushSpec> push = FromProto(request_);
    if (!push.ok()) return push.status();
    absl::StatusOr<std::vector<VariableInfo>> infos = store_->Push(*push);
    if (!infos.ok()) return infos.status();
    for (const VariableInfo& info : *infos) ToProto(info, response_->add_variables());
    return absl::OkStatus();
  }

  VariableStore* const store_;
  rpc::PushResponse* const response_;
  rpc::PushChunk chunk_;
  rpc::PushRequest request_;
  bool started_ = false;
};

}  // namespace

grpc::ServerWriteReactor<rpc::ValueChunk>* NewPullChunksReactor(
    VariableStore* store, const rpc::PullChunksRequest* request) {
  return new PullChunksReactor(store, *request);
}

grpc::ServerReadReactor<rpc::PushChunk>* NewPushChunksReactor(
    VariableStore* store, rpc::PushResponse* response) {
  return new PushChunksReactor(store, response);
}

}  // namespace paramserver
