#ifndef PARAM_SERVER_CLIENT_CLI_PARSE_H_
#define PARAM_SERVER_CLIENT_CLI_PARSE_H_

// Parsing of psctl's textual arguments. Every function returns
// INVALID_ARGUMENT with the offending text on bad input.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/variable_spec.h"

namespace paramserver {

// "2,3" or "[2, 3]" -> {2, 3}; "" or "[]" -> {} (a scalar).
absl::StatusOr<TensorShape> ParseShape(absl::string_view text);

// Row ids, "3,0,3" or "[3, 0, 3]"; "" or "[]" -> none.
absl::StatusOr<std::vector<int64_t>> ParseIds(absl::string_view text);

// One number as Python reads a literal: "7" and "-9223372036854775808" are
// integers (exact over all of int64), "2.5", "1e3" and "7.0" doubles.
absl::StatusOr<Number> ParseNumber(absl::string_view text);

// "1,2.5,-3" -> {1, 2.5, -3}, each as ParseNumber reads it.
absl::StatusOr<std::vector<Number>> ParseNumberList(absl::string_view text);

// "" -> nullopt; otherwise a number, as ParseNumber reads it.
absl::StatusOr<std::optional<Number>> ParseOptionalNumber(
    absl::string_view flag, absl::string_view text);

// "false"/"create", "true"/"reuse", "auto"/"auto_reuse".
absl::StatusOr<ReuseMode> ParseReuse(absl::string_view text);

// TensorFlow's snake_case names: "zeros", "glorot_uniform", ...; "" and
// "default" are kDefault.
absl::StatusOr<InitializerKind> ParseInitializerKind(absl::string_view text);

// "fan_in", "fan_out", "fan_avg", case-sensitive as in TF; otherwise TF's
// "Invalid `mode` argument: ...".
absl::StatusOr<FanMode> ParseFanMode(absl::string_view text);

// "truncated_normal" (or "normal", TF 1.x's name for it),
// "untruncated_normal", "uniform", in any case (TF lower-cases it);
// otherwise TF's "Invalid `distribution` argument: ...".
absl::StatusOr<ScalingDistribution> ParseDistribution(absl::string_view text);

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_CLI_PARSE_H_
