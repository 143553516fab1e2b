#ifndef PARAM_SERVER_SERVER_OPERATOR_API_H_
#define PARAM_SERVER_SERVER_OPERATOR_API_H_
// The JSON behind the operator page (server/operator_page.h): one level of
// the scope tree, and one variable's details with a histogram of its
// values. Plain C++ over the store's descriptions; server/monitoring.h
// serves it as /api/scope and /api/variable.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/dtype.h"
#include "server/variable_store.h"

namespace paramserver {

// Whether the caller may see a variable (its token reaches the name).
using NameFilter = std::function<bool(absl::string_view full_name)>;

// The children of `scope` ("" for the root) among `under`, the store's
// DescribeVariables(scope):
//   {"scope", "variables", "bytes", "children": [
//      {"kind": "scope", "name", "variables", "bytes", "last_update"},
//      {"kind": "variable", "name", "shape", "dtype", "bytes", "version",
//       "trainable", "last_update", "slots", "slot_bytes"}],
//    "children_left_out"}
// Scopes first, then variables, each by name; at most max_children of
// them. "variables" counts variables without their optimizer slots, whose
// bytes count in "bytes" (and a variable's in its "slot_bytes"). Times are
// seconds since the Unix epoch. Names `visible` refuses are left out.
std::string ScopeJson(absl::string_view scope,
                      const std::vector<VariableStore::VariableStatus>& under,
                      const NameFilter& visible, size_t max_children = 1000);

// The distribution of a value's elements, as TensorBoard's histogram
// dashboard draws one: equal-width buckets from the smallest to the largest
// finite element. Values of more than max_samples elements are read every
// `stride`-th element.
struct ValueHistogram {
  uint64_t elements = 0;  // In the value.
  uint64_t stride = 1;
  uint64_t sampled = 0;    // Elements read.
  uint64_t nonfinite = 0;  // NaN and infinities among them.
  double min = 0, max = 0, mean = 0, stddev = 0;  // Of the finite ones.
  std::vector<uint64_t> counts;                   // Empty when none is finite.
  double bucket_width = 0;
};
ValueHistogram HistogramOf(DType dtype, absl::string_view bytes,
                           int buckets = 30, uint64_t max_samples = 1 << 20);

// One variable's details: {"name", "shape", "dtype", "bytes", "version",
// "trainable", "slot", "last_update", "slots": [{"name", "bytes",
// "version", "last_update"}], "histogram": {"elements", "stride",
// "sampled", "nonfinite", "min", "max", "mean", "stddev", "buckets":
// [{"left", "right", "count"}]}}. `described`: the store's
// DescribeVariables(name), which holds the variable and its slots;
// `value`: its bytes (a snapshot read after `described`).
absl::StatusOr<std::string> VariableJson(
    absl::string_view name,
    const std::vector<VariableStore::VariableStatus>& described,
    absl::string_view value);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_OPERATOR_API_H_
