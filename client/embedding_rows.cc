#include "client/embedding_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace paramserver {
namespace {

template <typename T>
void ClipRows(size_t row_elements, T max_norm, std::string& rows) {
  if (row_elements == 0) return;
  std::vector<T> row(row_elements);
  const size_t row_bytes = row_elements * sizeof(T);
  for (size_t offset = 0; offset + row_bytes <= rows.size();
       offset += row_bytes) {
    std::memcpy(row.data(), rows.data() + offset, row_bytes);
    T l2sum = 0;
    for (const T x : row) l2sum += x * x;
    // As clip_by_norm: a zero row keeps a zero norm (no sqrt of 0 taken).
    const T l2norm = l2sum > 0 ? std::sqrt(l2sum) : l2sum;
    const T denominator = std::max(l2norm, max_norm);
    for (T& x : row) x = x * max_norm / denominator;
    std::memcpy(rows.data() + offset, row.data(), row_bytes);
  }
}

}  // namespace

absl::Status ClipRowsByNorm(DType dtype, size_t row_bytes, double max_norm,
                            absl::string_view name, std::string& rows) {
  if (!(max_norm > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_norm must be positive; got ", max_norm, "."));
  }
  switch (dtype) {
    case DType::kFloat:
      ClipRows<float>(row_bytes / sizeof(float), static_cast<float>(max_norm),
                      rows);
      return absl::OkStatus();
    case DType::kDouble:
      ClipRows<double>(row_bytes / sizeof(double), max_norm, rows);
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("max_norm clips floating-point rows; ", name, " is ",
                       DTypeName(dtype), "."));
  }
}

}  // namespace paramserver
