#include "server/local_variable_client.h"

#include <utility>

namespace paramserver {
namespace {

std::string Bytes(const std::shared_ptr<const TensorBuffer>& value) {
  if (value == nullptr) return std::string();
  return std::string(value->data(), value->size());
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalVariableClient>>
LocalVariableClient::Create(const StoreOptions& options) {
  absl::StatusOr<std::unique_ptr<VariableStore>> store =
      VariableStore::Create(options);
  if (!store.ok()) return store.status();
  return std::make_unique<LocalVariableClient>(
      std::shared_ptr<VariableStore>(*std::move(store)));
}

absl::StatusOr<FetchedVariable> LocalVariableClient::GetVariable(
    const VariableRequest& request, bool return_value) {
  absl::StatusOr<VariableStore::GetResult> result =
      store_->GetVariable(request);
  if (!result.ok()) return result.status();
  return FetchedVariable{
      result->snapshot.info, result->created,
      return_value ? Bytes(result->snapshot.value) : std::string()};
}

absl::StatusOr<FetchedVariable> LocalVariableClient::ReadVariable(
    absl::string_view full_name) {
  absl::StatusOr<VariableSnapshot> snapshot = store_->ReadVariable(full_name);
  if (!snapshot.ok()) return snapshot.status();
  return FetchedVariable{snapshot->info, false, Bytes(snapshot->value)};
}

namespace {

absl::StatusOr<GatheredRows> ReadRows(VariableStore& store,
                                      absl::string_view full_name,
                                      absl::Span<const int64_t> ids,
                                      TableRead read) {
  absl::StatusOr<VariableStore::GatherResult> gathered =
      store.GatherRows(full_name, ids, read);
  if (!gathered.ok()) return gathered.status();
  return GatheredRows{
      std::move(gathered->info),
      std::string(gathered->rows->data(), gathered->rows->size())};
}

}  // namespace

absl::StatusOr<GatheredRows> LocalVariableClient::GatherRows(
    absl::string_view full_name, absl::Span<const int64_t> ids) {
  return ReadRows(*store_, full_name, ids, TableRead::kLookup);
}

absl::StatusOr<GatheredRows> LocalVariableClient::PeekRows(
    absl::string_view full_name, absl::Span<const int64_t> ids) {
  return ReadRows(*store_, full_name, ids, TableRead::kPeek);
}

absl::StatusOr<GatheredRows> LocalVariableClient::LookupSparse(
    absl::string_view full_name, absl::Span<const int64_t> ids,
    const BagSpec& bags) {
  absl::StatusOr<VariableStore::GatherResult> pooled =
      store_->LookupSparse(full_name, ids, bags);
  if (!pooled.ok()) return pooled.status();
  return GatheredRows{std::move(pooled->info),
                      std::string(pooled->rows->data(), pooled->rows->size())};
}

absl::StatusOr<VariableInfo> LocalVariableClient::PushRows(
    const RowUpdateSpec& push) {
  return store_->PushRows(push);
}

absl::StatusOr<std::vector<VariableInfo>> LocalVariableClient::ListVariables(
    absl::string_view prefix) {
  return store_->ListVariables(prefix);
}

absl::StatusOr<std::vector<std::string>> LocalVariableClient::DeleteVariable(
    absl::string_view full_name) {
  return store_->DeleteVariable(full_name);
}

absl::StatusOr<std::vector<std::string>> LocalVariableClient::DeleteScope(
    absl::string_view scope) {
  return store_->DeleteScope(scope);
}

absl::StatusOr<std::vector<PulledValue>> LocalVariableClient::Pull(
    absl::Span<const PullItemSpec> items) {
  absl::StatusOr<std::vector<VariableStore::PullResult>> results =
      store_->Pull(items);
  if (!results.ok()) return results.status();
  std::vector<PulledValue> pulled;
  pulled.reserve(results->size());
  for (VariableStore::PullResult& result : *results) {
    pulled.push_back(PulledValue{std::move(result.info), result.unchanged,
                                 Bytes(result.value)});
  }
  return pulled;
}

absl::StatusOr<std::vector<VariableInfo>> LocalVariableClient::Push(
    const PushSpec& push) {
  return store_->Push(push);
}

absl::StatusOr<TableStatus> LocalVariableClient::GetTable(
    const TableRequest& request) {
  absl::StatusOr<VariableStore::GetTableResult> result =
      store_->GetTable(request);
  if (!result.ok()) return result.status();
  return TableStatus{result->info.name, result->info.spec, result->created,
                     result->info.stats};
}

absl::StatusOr<TableStatus> LocalVariableClient::GetTableStats(
    absl::string_view name) {
  absl::StatusOr<TableInfo> info = store_->GetTableInfo(name);
  if (!info.ok()) return info.status();
  return TableStatus{info->name, info->spec, false, info->stats};
}

}  // namespace paramserver
