#include "server/variable_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "server/logging.h"
#include "wire/proto_convert.h"

namespace paramserver {
namespace {

// Pulled values up to this size go inline unless the request says otherwise.
constexpr int64_t kDefaultMaxInlineBytes = int64_t{64} << 20;

void FillSnapshot(const VariableSnapshot& snapshot, rpc::VariableInfo* info,
                  std::string* value) {
  ToProto(snapshot.info, info);
  if (value != nullptr) {
    value->assign(snapshot.value->data(), snapshot.value->size());
  }
}

// The variable or scope a delete touches; "" (everything) when unset.
std::string DeleteTarget(const rpc::DeleteVariablesRequest& request) {
  return request.target_case() == rpc::DeleteVariablesRequest::kName
             ? request.name()
             : request.scope();
}

// The count first, so that nothing is done per update of an oversized push;
// then writing every variable the updates name.
absl::Status CheckPush(const VariableService& service, const Caller& caller,
                       const rpc::PushRequest& request) {
  if (absl::Status s = CheckPushUpdateCount(request.updates_size()); !s.ok()) {
    return s;
  }
  std::vector<std::string> names;
  names.reserve(request.updates_size());
  for (const rpc::Update& update : request.updates()) {
    names.push_back(update.name());
  }
  return service.Admit(caller, Action::kWrite, names);
}

}  // namespace

absl::Status VariableService::Admit(const Caller& caller, Action action,
                                    absl::Span<const std::string> names) const {
  if (absl::Status s = caller.Authorize(action, names); !s.ok()) return s;
  const absl::StatusOr<std::optional<ShardPlace>>& expected =
      caller.expected_place();
  if (!expected.ok()) return expected.status();
  if (!expected->has_value()) return absl::OkStatus();
  return CheckShardPlace(identity_.place, **expected);
}

absl::Status VariableService::GetServerInfo(
    const Caller& caller, const rpc::ServerInfoRequest& /*request*/,
    rpc::ServerInfoResponse* response) {
  if (absl::Status s = Admit(caller, Action::kRead, {}); !s.ok()) return s;
  response->set_job(identity_.place.job);
  response->set_shard_index(identity_.place.index);
  response->set_shard_count(identity_.place.count);
  response->set_incarnation(identity_.incarnation);
  response->set_num_variables(static_cast<int64_t>(store_->num_variables()));
  response->set_cluster(membership_.cluster());
  return absl::OkStatus();
}

absl::Status VariableService::JoinCluster(
    const Caller& caller, const rpc::JoinClusterRequest& request,
    rpc::JoinClusterResponse* response) {
  if (absl::Status s = Admit(caller, Action::kCreate, {}); !s.ok()) return s;
  absl::StatusOr<std::string> joined = membership_.Join(request.cluster());
  if (!joined.ok()) return joined.status();
  if (*joined != identity_.cluster) {
    Log(LogLevel::kInfo, "Joined cluster ", *joined);
  }
  response->set_cluster(*joined);
  return absl::OkStatus();
}

absl::Status VariableService::GetVariable(
    const Caller& caller, const rpc::GetVariableRequest& request,
    rpc::GetVariableResponse* response) {
  const Action action =
      request.reuse() == rpc::REUSE ? Action::kRead : Action::kCreate;
  if (absl::Status s =
          Admit(caller, action, {JoinScope(request.scope(), request.name())});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<VariableRequest> parsed = FromProto(request);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<VariableStore::GetResult> result =
      store_->GetVariable(*parsed);
  if (!result.ok()) return result.status();
  response->set_created(result->created);
  FillSnapshot(result->snapshot, response->mutable_variable(),
               request.return_value() ? response->mutable_value() : nullptr);
  if (result->created) {
    Log(LogLevel::kInfo, "Created variable ", result->snapshot.info.name, " ",
        ShapeToString(result->snapshot.info.shape), " ",
        DTypeName(result->snapshot.info.dtype));
  }
  return absl::OkStatus();
}

namespace {

void FillTable(const TableInfo& info, rpc::GetTableResponse* response) {
  response->set_name(info.name);
  ToProto(info.spec, response->mutable_spec());
  ToProto(info.stats, response->mutable_stats());
}

}  // namespace

absl::Status VariableService::GetTable(const Caller& caller,
                                       const rpc::GetTableRequest& request,
                                       rpc::GetTableResponse* response) {
  const Action action =
      request.reuse() == rpc::REUSE ? Action::kRead : Action::kCreate;
  if (absl::Status s =
          Admit(caller, action, {JoinScope(request.scope(), request.name())});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<TableRequest> parsed = FromProto(request);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<VariableStore::GetTableResult> result =
      store_->GetTable(*parsed);
  if (!result.ok()) return result.status();
  FillTable(result->info, response);
  response->set_created(result->created);
  if (result->created) {
    Log(LogLevel::kInfo, "Created dynamic table ", result->info.name, " (",
        result->info.spec.width, " floats per row, capacity ",
        result->info.spec.capacity, ")");
  }
  return absl::OkStatus();
}

absl::Status VariableService::GetTableStats(
    const Caller& caller, const rpc::TableStatsRequest& request,
    rpc::GetTableResponse* response) {
  if (absl::Status s = Admit(caller, Action::kRead, {request.name()});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<TableInfo> info = store_->GetTableInfo(request.name());
  if (!info.ok()) return info.status();
  FillTable(*info, response);
  return absl::OkStatus();
}

absl::Status VariableService::ReadVariable(
    const Caller& caller, const rpc::ReadVariableRequest& request,
    rpc::ReadVariableResponse* response) {
  if (absl::Status s = Admit(caller, Action::kRead, {request.name()});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<VariableSnapshot> snapshot =
      store_->ReadVariable(request.name());
  if (!snapshot.ok()) return snapshot.status();
  FillSnapshot(*snapshot, response->mutable_variable(),
               response->mutable_value());
  return absl::OkStatus();
}

absl::StatusOr<VariableStore::GatherResult> VariableService::GatherRows(
    const Caller& caller, const rpc::GatherRowsRequest& request) {
  if (absl::Status s = Admit(caller, Action::kRead, {request.name()});
      !s.ok()) {
    return s;
  }
  if (request.ids_size() > kMaxGatherIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("A gather may ask for at most ", kMaxGatherIds,
                     " ids; this one asks for ", request.ids_size(),
                     ". Split it into several calls."));
  }
  return store_->GatherRows(
      request.name(), request.ids(),
      request.peek() ? TableRead::kPeek : TableRead::kLookup);
}

absl::StatusOr<VariableStore::GatherResult> VariableService::LookupSparse(
    const Caller& caller, const rpc::LookupSparseRequest& request) {
  if (absl::Status s = Admit(caller, Action::kRead, {request.name()});
      !s.ok()) {
    return s;
  }
  if (request.ids_size() > kMaxGatherIds) {
    return absl::InvalidArgumentError(absl::StrCat(
        "A lookup may carry at most ", kMaxGatherIds, " ids; this one carries ",
        request.ids_size(), ". Split it into several calls."));
  }
  absl::StatusOr<BagSpec> bags = FromProto(request.bags());
  if (!bags.ok()) return bags.status();
  return store_->LookupSparse(request.name(), request.ids(), *bags);
}

absl::Status VariableService::ListVariables(
    const Caller& caller, const rpc::ListVariablesRequest& request,
    rpc::ListVariablesResponse* response) {
  if (absl::Status s = Admit(caller, Action::kRead, {request.prefix()});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<VariableInfo>> infos =
      store_->ListVariables(request.prefix());
  if (!infos.ok()) return infos.status();
  for (const VariableInfo& info : *infos) {
    ToProto(info, response->add_variables());
  }
  return absl::OkStatus();
}

absl::Status VariableService::DeleteVariables(
    const Caller& caller, const rpc::DeleteVariablesRequest& request,
    rpc::DeleteVariablesResponse* response) {
  if (absl::Status s = Admit(caller, Action::kDelete, {DeleteTarget(request)});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<std::string>> deleted;
  switch (request.target_case()) {
    case rpc::DeleteVariablesRequest::kName:
      deleted = store_->DeleteVariable(request.name());
      break;
    case rpc::DeleteVariablesRequest::kScope:
      deleted = store_->DeleteScope(request.scope());
      break;
    case rpc::DeleteVariablesRequest::TARGET_NOT_SET:
      return absl::InvalidArgumentError(
          "DeleteVariables needs a variable name or a scope.");
  }
  if (!deleted.ok()) return deleted.status();
  for (std::string& name : *deleted) {
    Log(LogLevel::kInfo, "Deleted variable ", name);
    response->add_deleted(std::move(name));
  }
  return absl::OkStatus();
}

absl::StatusOr<VariableService::PullReply> VariableService::Pull(
    const Caller& caller, rpc::PullRequest request) {
  std::vector<std::string> names;
  names.reserve(request.items_size());
  for (const rpc::PullItem& item : request.items())
    names.push_back(item.name());
  if (absl::Status s = Admit(caller, Action::kRead, names); !s.ok()) {
    return s;
  }
  std::vector<PullItemSpec> items;
  items.reserve(request.items_size());
  for (rpc::PullItem& item : *request.mutable_items()) {
    items.push_back({std::move(*item.mutable_name()), item.known_version()});
  }
  absl::StatusOr<std::vector<VariableStore::PullResult>> pulled =
      store_->Pull(items);
  if (!pulled.ok()) return pulled.status();
  PullReply reply;
  reply.results = *std::move(pulled);
  reply.max_inline_bytes = request.max_inline_bytes() > 0
                               ? request.max_inline_bytes()
                               : kDefaultMaxInlineBytes;
  return reply;
}

absl::StatusOr<VariableStore::PullResult> VariableService::PullChunks(
    const Caller& caller, const rpc::PullChunksRequest& request) {
  if (absl::Status s = Admit(caller, Action::kRead, {request.name()});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<VariableStore::PullResult>> pulled =
      store_->Pull({{request.name(), request.known_version()}});
  if (!pulled.ok()) return pulled.status();
  return std::move((*pulled)[0]);
}

absl::Status VariableService::Push(const Caller& caller,
                                   const rpc::PushRequest& request,
                                   rpc::PushResponse* response) {
  if (absl::Status s = CheckPush(*this, caller, request); !s.ok()) return s;
  absl::StatusOr<PushSpec> push = FromProto(request);
  if (!push.ok()) return push.status();
  absl::StatusOr<std::vector<VariableInfo>> infos = store_->Push(*push);
  if (!infos.ok()) return infos.status();
  for (const VariableInfo& info : *infos) {
    ToProto(info, response->add_variables());
  }
  return absl::OkStatus();
}

absl::Status VariableService::PushRows(const Caller& caller,
                                       const rpc::PushRowsRequest& request,
                                       rpc::PushRowsResponse* response) {
  if (absl::Status s = Admit(caller, Action::kWrite, {request.name()});
      !s.ok()) {
    return s;
  }
  if (request.ids_size() > kMaxGatherIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("A row push may carry at most ", kMaxGatherIds,
                     " ids; this one carries ", request.ids_size(),
                     ". Split it into several calls."));
  }
  absl::StatusOr<RowUpdateSpec> push = FromProto(request);
  if (!push.ok()) return push.status();
  absl::StatusOr<VariableInfo> info = store_->PushRows(*push);
  if (!info.ok()) return info.status();
  ToProto(*info, response->mutable_variable());
  return absl::OkStatus();
}

absl::StatusOr<VariableService::ChunkedPush> VariableService::StartChunkedPush(
    const Caller& caller, const rpc::PushRequest& request) {
  if (absl::Status s = CheckPush(*this, caller, request); !s.ok()) return s;
  absl::StatusOr<PushSpec> header = FromProto(request);
  if (!header.ok()) return header.status();
  absl::StatusOr<std::vector<size_t>> sizes = store_->CheckPushHeader(*header);
  if (!sizes.ok()) return sizes.status();
  // The names are distinct variables, so the sum stays below the total limit.
  size_t total = 0;
  for (int i = 0; i < request.updates_size(); ++i) {
    if (absl::Status s = CheckValueRoom(request, i, (*sizes)[i], 0); !s.ok()) {
      return s;
    }
    total += (*sizes)[i];
  }
  absl::StatusOr<VariableStore::Reservation> reserved = store_->Reserve(
      total, absl::StrCat("This push (", request.updates_size(), " updates)"));
  if (!reserved.ok()) return reserved.status();
  return ChunkedPush{*std::move(sizes), *std::move(reserved)};
}

absl::Status CheckValueRoom(const rpc::PushRequest& request, int index,
                            size_t expected, size_t more) {
  const rpc::Update& update = request.updates(index);
  if (update.value().size() + more <= expected) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("Update ", index, " (", update.name(), ") would hold ",
                   update.value().size() + more, " bytes; the variable has ",
                   expected, "."));
}

}  // namespace paramserver
