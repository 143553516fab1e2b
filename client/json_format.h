#ifndef PARAM_SERVER_CLIENT_JSON_FORMAT_H_
#define PARAM_SERVER_CLIENT_JSON_FORMAT_H_

// JSON rendering of variables for psctl and scripts: one object per line,
// written with common/json_writer.h.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/table_spec.h"
#include "common/variable_spec.h"

namespace paramserver {

// The elements of a raw little-endian value as a JSON array: floats with
// enough digits to round-trip, integers exactly, bools as true/false, and
// null for NaN and infinities (which JSON cannot express). INVALID_ARGUMENT
// when the byte count does not match the shape and dtype.
absl::StatusOr<std::string> ValuesToJson(const VariableInfo& info,
                                         absl::string_view bytes);

// {"name":..,"shape":[..],"dtype":..,"version":..,"trainable":..} plus
// "created" when `created` is given and "values" when `values` is given.
absl::StatusOr<std::string> VariableToJson(const VariableInfo& info,
                                           const bool* created,
                                           const absl::string_view* values);

// {"name":..,"shape":[..],"dtype":..,"version":..,"ids":[..],"rows":[[..],..]}:
// a gather's rows, one array per id (the variable's shape is the whole
// table's). INVALID_ARGUMENT when `rows` does not hold one row per id.
// A dynamic table's spec and counters, one object:
// {"name":"emb/users","width":64,"capacity":1000000,"optimizer":"ADAGRAD",
//  "admit_after":1,"evict_when_full":true,"ttl_seconds":0,"seed":7,
//  "stored_rows":..,"admitted":..,"evicted_idle":..,"evicted_capacity":..,
//  "lookup_ids":..,"lookup_hits":..,"dropped_gradient_rows":..,"steps":..,
//  "bytes":..}
std::string TableToJson(const TableStatus& table);

absl::StatusOr<std::string> RowsToJson(const VariableInfo& info,
                                       absl::Span<const int64_t> ids,
                                       absl::string_view rows);

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_JSON_FORMAT_H_
