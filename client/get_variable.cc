#include "client/get_variable.h"

#include <utility>

namespace paramserver {

absl::StatusOr<FetchedVariable> GetVariable(VariableClient& client,
                                            absl::string_view name,
                                            std::optional<TensorShape> shape,
                                            const GetVariableOptions& options,
                                            bool return_value) {
  return client.GetVariable(ResolveRequest(name, std::move(shape), options),
                            return_value);
}

}  // namespace paramserver
