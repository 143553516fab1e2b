#include "client/cli_parse.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace paramserver {
namespace {

absl::Status Invalid(absl::string_view what, absl::string_view text,
                     absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid ", what, " '", text, "'; expected ", expected, "."));
}

// Drops surrounding brackets and whitespace: "[2, 3]" -> "2, 3".
absl::string_view Unbracket(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (absl::ConsumePrefix(&text, "[")) absl::ConsumeSuffix(&text, "]");
  return absl::StripAsciiWhitespace(text);
}

}  // namespace

namespace {

// "1,2" or "[1, 2]" as integers; INVALID_ARGUMENT naming `what` otherwise.
absl::StatusOr<std::vector<int64_t>> ParseIntegerList(
    absl::string_view text, absl::string_view what, absl::string_view example) {
  std::vector<int64_t> integers;
  absl::string_view inner = Unbracket(text);
  if (inner.empty()) return integers;
  for (absl::string_view part : absl::StrSplit(inner, ',')) {
    int64_t integer;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &integer)) {
      return Invalid(
          what, text,
          absl::StrCat("comma-separated integers such as ", example));
    }
    integers.push_back(integer);
  }
  return integers;
}

}  // namespace

absl::StatusOr<TensorShape> ParseShape(absl::string_view text) {
  return ParseIntegerList(text, "shape", "5,5,32");
}

absl::StatusOr<std::vector<int64_t>> ParseIds(absl::string_view text) {
  return ParseIntegerList(text, "ids", "3,0,3");
}

absl::StatusOr<Number> ParseNumber(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  int64_t integer;
  if (absl::SimpleAtoi(text, &integer)) return Number(integer);
  double floating;
  if (absl::SimpleAtod(text, &floating)) return Number(floating);
  return Invalid("number", text, "an integer or a decimal number");
}

absl::StatusOr<std::vector<Number>> ParseNumberList(absl::string_view text) {
  std::vector<Number> values;
  absl::string_view inner = Unbracket(text);
  if (inner.empty()) return values;
  for (absl::string_view part : absl::StrSplit(inner, ',')) {
    absl::StatusOr<Number> value = ParseNumber(part);
    if (!value.ok()) {
      return Invalid("number list", text, "comma-separated numbers");
    }
    values.push_back(*value);
  }
  return values;
}

absl::StatusOr<std::optional<Number>> ParseOptionalNumber(
    absl::string_view flag, absl::string_view text) {
  if (text.empty()) return std::nullopt;
  absl::StatusOr<Number> value = ParseNumber(text);
  if (!value.ok()) return Invalid(absl::StrCat("--", flag), text, "a number");
  return *value;
}

absl::StatusOr<ReuseMode> ParseReuse(absl::string_view text) {
  if (text == "false" || text == "create") return ReuseMode::kCreate;
  if (text == "true" || text == "reuse") return ReuseMode::kReuse;
  if (text == "auto" || text == "auto_reuse") return ReuseMode::kAutoReuse;
  return Invalid("--reuse", text, "false, true or auto");
}

absl::StatusOr<InitializerKind> ParseInitializerKind(absl::string_view text) {
  static constexpr std::pair<const char*, InitializerKind> kNames[] = {
      {"", InitializerKind::kDefault},
      {"default", InitializerKind::kDefault},
      {"zeros", InitializerKind::kZeros},
      {"ones", InitializerKind::kOnes},
      {"constant", InitializerKind::kConstant},
      {"random_uniform", InitializerKind::kRandomUniform},
      {"random_normal", InitializerKind::kRandomNormal},
      {"truncated_normal", InitializerKind::kTruncatedNormal},
      {"glorot_uniform", InitializerKind::kGlorotUniform},
      {"glorot_normal", InitializerKind::kGlorotNormal},
      {"variance_scaling", InitializerKind::kVarianceScaling},
  };
  for (const auto& [name, kind] : kNames) {
    if (text == name) return kind;
  }
  return Invalid("--initializer", text,
                 "zeros, ones, constant, random_uniform, random_normal, "
                 "truncated_normal, glorot_uniform, glorot_normal or "
                 "variance_scaling");
}

// TF 1.15's VarianceScaling texts: "Invalid `mode` argument:", ...
absl::Status InvalidScalingArgument(absl::string_view argument,
                                    absl::string_view text,
                                    absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("Invalid `", argument, "` argument: ", text, " (expected ",
                   expected, ")."));
}

absl::StatusOr<FanMode> ParseFanMode(absl::string_view text) {
  if (text == "fan_in") return FanMode::kFanIn;
  if (text == "fan_out") return FanMode::kFanOut;
  if (text == "fan_avg") return FanMode::kFanAvg;
  return InvalidScalingArgument("mode", text, "fan_in, fan_out or fan_avg");
}

absl::StatusOr<ScalingDistribution> ParseDistribution(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "truncated_normal" || lower == "normal") {
    return ScalingDistribution::kTruncatedNormal;
  }
  if (lower == "untruncated_normal") {
    return ScalingDistribution::kUntruncatedNormal;
  }
  if (lower == "uniform") return ScalingDistribution::kUniform;
  return InvalidScalingArgument(
      "distribution", text,
      "truncated_normal, normal, untruncated_normal or uniform");
}

}  // namespace paramserver
