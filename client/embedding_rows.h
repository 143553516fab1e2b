#ifndef PARAM_SERVER_CLIENT_EMBEDDING_ROWS_H_
#define PARAM_SERVER_CLIENT_EMBEDDING_ROWS_H_

// What tf.nn.embedding_lookup does to gathered rows on the worker: pure
// functions, no RPC.

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/dtype.h"

namespace paramserver {

// embedding_lookup's max_norm: each row of `rows` (rows of `row_bytes`
// bytes of `dtype`) becomes tf.clip_by_norm(row, max_norm), that is
// row * max_norm / max(||row||_2, max_norm), computed in the row's dtype as
// TensorFlow does. INVALID_ARGUMENT naming `name` for a dtype that is not
// floating point or a max_norm that is not positive.
absl::Status ClipRowsByNorm(DType dtype, size_t row_bytes, double max_norm,
                            absl::string_view name, std::string& rows);

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_EMBEDDING_ROWS_H_
