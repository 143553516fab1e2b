// libFuzzer target: sequences of wire requests to a fresh store, through the
// same conversion and validation the gRPC service uses, so that requests
// build on each other (create, then push, then pull, delete, create again).
// Any crash, sanitizer report or broken invariant is a bug: bad input must
// only ever produce a status.
//
// Input: requests separated by "<REQ>"; in each, the first byte picks the
// kind (GetVariable, Push, List, Delete, Pull, CheckPushHeader, GatherRows,
// PushRows, LookupSparse: the byte modulo 9; GetTable: 0xFF),
// the rest is its serialized message (List and Delete: a name or prefix).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/tensor_shape.h"
#include "fuzz/fuzz_util.h"
#include "google/protobuf/stubs/logging.h"
#include "proto/parameter_server.pb.h"
#include "server/variable_store.h"
#include "wire/proto_convert.h"

namespace paramserver {
namespace {

// A value always matches its shape and dtype.
void CheckSnapshot(const VariableInfo& info, const TensorBuffer* value) {
  absl::StatusOr<int64_t> elements = NumElements(info.shape);
  Check(elements.ok());
  Check(value != nullptr && value->size() == static_cast<size_t>(*elements) *
                                                 DTypeSize(info.dtype));
}

class Session {
 public:
  Session() { store_ = *VariableStore::Create(SmallStoreOptions()); }

  void Run(char kind, absl::string_view bytes) {
    // Added after the others: one byte value, so that the corpus's other
    // kinds keep their meaning.
    if (static_cast<uint8_t>(kind) == kGetTableKind) return GetTable(bytes);
    switch (static_cast<uint8_t>(kind) % 9) {
      case 0:
        return GetVariable(bytes);
      case 1:
        return Push(bytes, /*header_only=*/false);
      case 2:
        return List(bytes);
      case 3:
        return Delete(bytes);
      case 4:
        return Pull(bytes);
      case 5:
        return Push(bytes, /*header_only=*/true);
      case 6:
        return Gather(bytes);
      case 7:
        return PushRows(bytes);
      case 8:
        return LookupSparse(bytes);
    }
  }

 private:
  static constexpr uint8_t kGetTableKind = 0xFF;

  // A table made or found has the width asked and a seed, and is found
  // again by name; its rows go through Gather and PushRows like a
  // variable's.
  void GetTable(absl::string_view bytes) {
    rpc::GetTableRequest proto;
    if (!proto.ParseFromArray(bytes.data(), bytes.size())) return;
    absl::StatusOr<TableRequest> request = FromProto(proto);
    if (!request.ok()) return;
    absl::StatusOr<VariableStore::GetTableResult> result =
        store_->GetTable(*request);
    if (!result.ok()) return;
    Check(result->info.spec.width == request->spec.width);
    Check(result->info.spec.initializer.seed.has_value());
    absl::StatusOr<TableInfo> found = store_->GetTableInfo(result->info.name);
    Check(found.ok() && found->spec.capacity == result->info.spec.capacity);
    Check(!store_->ReadVariable(result->info.name).ok());
  }

  void GetVariable(absl::string_view bytes) {
    rpc::GetVariableRequest proto;
    if (!proto.ParseFromArray(bytes.data(), bytes.size())) return;
    absl::StatusOr<VariableRequest> request = FromProto(proto);
    if (!request.ok()) return;
    absl::StatusOr<VariableStore::GetResult> result =
        store_->GetVariable(*request);
    if (result.ok()) {
      CheckSnapshot(result->snapshot.info, result->snapshot.value.get());
    }
  }

  void Push(absl::string_view bytes, bool header_only) {
    rpc::PushRequest proto;
    if (!proto.ParseFromArray(bytes.data(), bytes.size())) return;
    absl::StatusOr<PushSpec> push = FromProto(proto);
    if (!push.ok()) return;
    if (header_only) {
      absl::StatusOr<std::vector<size_t>> sizes =
          store_->CheckPushHeader(*push);
      if (sizes.ok()) Check(sizes->size() == push->updates.size());
      return;
    }
    absl::StatusOr<std::vector<VariableInfo>> infos = store_->Push(*push);
    if (infos.ok()) Check(infos->size() == push->updates.size());
  }

  void List(absl::string_view prefix) {
    absl::StatusOr<std::vector<VariableInfo>> infos =
        store_->ListVariables(prefix);
    if (!infos.ok()) return;
    for (const VariableInfo& info : *infos) {
      absl::StatusOr<VariableSnapshot> read = store_->ReadVariable(info.name);
      Check(read.ok());
      CheckSnapshot(read->info, read->value.get());
    }
  }

  void Delete(absl::string_view bytes) {
    if (!bytes.empty() && bytes[0] == 's') {
      (void)store_->DeleteScope(bytes.substr(1));
    } else {
      (void)store_->DeleteVariable(bytes);
    }
  }

  void Pull(absl::string_view bytes) {
    rpc::PullRequest proto;
    if (!proto.ParseFromArray(bytes.data(), bytes.size())) return;
    std::vector<PullItemSpec> items;
    for (const rpc::PullItem& item : proto.items()) {
      items.push_back({item.name(), item.known_version()});
    }
    absl::StatusOr<std::vector<VariableStore::PullResult>> pulled =
        store_->Pull(items);
    if (!pulled.ok()) return;
    Check(pulled->size() == items.size());
    for (const VariableStore::PullResult& result : *pulled) {
      if (!result.unchanged) CheckSnapshot(result.info, result.value.get());
    }
  }

  // A row push that succeeds moves the version by one; one that fails
  // leaves the variable's bytes and version as they were.
  void PushRows(absl::string_view bytes) {
    rpc::PushRowsRequest proto;
    if (!proto.ParseFromArray(bytes.data(), bytes.size())) return;
    absl::StatusOr<RowUpdateSpec> push = FromProto(proto);
    if (!push.ok()) return;
    absl::StatusOr<VariableSnapshot> before = store_->ReadVariable(push->name);
    std::string before_bytes;
    if (before.ok()) {
      before_bytes.assign(before->value->data(), before->value->size());
    }
    absl::StatusOr<VariableInfo> pushed = store_->PushRows(*push);
    absl::StatusOr<VariableSnapshot> after = store_->ReadVariable(push->name);
    Check(before.ok() == after.ok());
    if (!after.ok()) return;
    CheckSnapshot(after->info, after->value.get());
    if (pushed.ok()) {
      Check(pushed->name == push->name);
      Check(pushed->version == after->info.version);
      Check(after->info.version ==
            before->info.version + (push->ids.empty() ? 0 : 1));
    } else {
      Check(after->info.version == before->info.version);
      Check(absl::string_view(after->value->data(), after->value->size()) ==
            before_bytes);
    }
  }

  // A pooled lookup returns one row of the variable's row size per bag.
  void LookupSparse(absl::string_view bytes) {
    rpc::LookupSparseRequest proto;
    if (!proto.ParseFromArray(bytes.data(), bytes.size())) return;
    absl::StatusOr<BagSpec> bags = FromProto(proto.bags());
    if (!bags.ok()) return;
    absl::StatusOr<VariableStore::GatherResult> pooled =
        store_->LookupSparse(proto.name(), proto.ids(), *bags);
    if (!pooled.ok()) return;
    const VariableInfo& info = pooled->info;
    Check(!info.shape.empty() && info.dtype == DType::kFloat);
    absl::StatusOr<int64_t> elements = NumElements(info.shape);
    Check(elements.ok());
    const size_t row_bytes =
        info.shape[0] == 0 ? 0
                           : static_cast<size_t>(*elements / info.shape[0]) * 4;
    Check(pooled->rows != nullptr &&
          pooled->rows->size() == bags->offsets.size() * row_bytes);
  }

  // A gather returns one row of the variable's row size per id.
  void Gather(absl::string_view bytes) {
    rpc::GatherRowsRequest proto;
    if (!proto.ParseFromArray(bytes.data(), bytes.size())) return;
    absl::StatusOr<VariableStore::GatherResult> gathered =
        store_->GatherRows(proto.name(), proto.ids());
    if (!gathered.ok()) return;
    const VariableInfo& info = gathered->info;
    Check(!info.shape.empty());
    absl::StatusOr<int64_t> elements = NumElements(info.shape);
    Check(elements.ok());
    const size_t row_bytes =
        info.shape[0] == 0 ? 0
                           : static_cast<size_t>(*elements / info.shape[0]) *
                                 DTypeSize(info.dtype);
    Check(gathered->rows != nullptr &&
          gathered->rows->size() == proto.ids_size() * row_bytes);
  }

  std::unique_ptr<VariableStore> store_;
};

}  // namespace
}  // namespace paramserver

// Protobuf logs every string field with invalid UTF-8 it rejects: millions
// of lines per run that say nothing (a rejected parse is an expected
// outcome here).
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  paramserver::Session session;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  for (absl::string_view request : absl::StrSplit(input, "<REQ>")) {
    if (!request.empty()) session.Run(request[0], request.substr(1));
  }
  return 0;
}
