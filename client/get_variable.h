#ifndef PARAM_SERVER_CLIENT_GET_VARIABLE_H_
#define PARAM_SERVER_CLIENT_GET_VARIABLE_H_

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/variable_client.h"
#include "client/variable_scope.h"
#include "common/tensor_shape.h"

namespace paramserver {

// tf.get_variable(name, shape, ...): resolves the request against the calling
// thread's current variable scope (see ResolveRequest) and sends it to
// `client`. The value is filled only when `return_value` is true.
//
// Errors are the client's, unchanged: the server's status with its
// TensorFlow-worded message (ALREADY_EXISTS when a non-reusing scope meets an
// existing variable, NOT_FOUND when a reusing scope meets a missing one,
// INVALID_ARGUMENT for a bad name, shape, dtype or initializer, ...) or the
// transport's.
//
// Thread-safe: the scope is the calling thread's own, and the client may be
// shared by every thread.
absl::StatusOr<FetchedVariable> GetVariable(
    VariableClient& client, absl::string_view name,
    std::optional<TensorShape> shape, const GetVariableOptions& options = {},
    bool return_value = false);

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_GET_VARIABLE_H_
