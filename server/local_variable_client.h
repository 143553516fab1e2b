#ifndef PARAM_SERVER_SERVER_LOCAL_VARIABLE_CLIENT_H_
#define PARAM_SERVER_SERVER_LOCAL_VARIABLE_CLIENT_H_

// A VariableClient over a VariableStore in the same process: no network, no
// serialization. For tests of code written against VariableClient (sharding
// and partitioning among them) and for examples that need no server. The
// store's statuses come back as they are, as the gRPC service passes them
// on; what only the service checks (tokens, message limits) is not applied.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "client/variable_client.h"
#include "server/variable_store.h"

namespace paramserver {

class LocalVariableClient final : public VariableClient {
 public:
  // `store` is shared with whoever else uses it. Thread-safe, as the store.
  explicit LocalVariableClient(std::shared_ptr<VariableStore> store)
      : store_(std::move(store)) {}

  // A client over a new store of its own.
  static absl::StatusOr<std::unique_ptr<LocalVariableClient>> Create(
      const StoreOptions& options = {});

  VariableStore& store() { return *store_; }

  using VariableClient::GetVariable;
  absl::StatusOr<FetchedVariable> GetVariable(const VariableRequest& request,
                                              bool return_value) override;
  absl::StatusOr<FetchedVariable> ReadVariable(
      absl::string_view full_name) override;
  absl::StatusOr<GatheredRows> GatherRows(
      absl::string_view full_name, absl::Span<const int64_t> ids) override;
  absl::StatusOr<GatheredRows> PeekRows(absl::string_view full_name,
                                        absl::Span<const int64_t> ids) override;
  absl::StatusOr<VariableInfo> PushRows(const RowUpdateSpec& push) override;
  absl::StatusOr<TableStatus> GetTable(const TableRequest& request) override;
  absl::StatusOr<TableStatus> GetTableStats(absl::string_view name) override;
  absl::StatusOr<GatheredRows> LookupSparse(absl::string_view full_name,
                                            absl::Span<const int64_t> ids,
                                            const BagSpec& bags) override;
  absl::StatusOr<std::vector<VariableInfo>> ListVariables(
      absl::string_view prefix) override;
  absl::StatusOr<std::vector<std::string>> DeleteVariable(
      absl::string_view full_name) override;
  absl::StatusOr<std::vector<std::string>> DeleteScope(
      absl::string_view scope) override;
  absl::StatusOr<std::vector<PulledValue>> Pull(
      absl::Span<const PullItemSpec> items) override;
  absl::StatusOr<std::vector<VariableInfo>> Push(const PushSpec& push) override;

 private:
  const std::shared_ptr<VariableStore> store_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_LOCAL_VARIABLE_CLIENT_H_
