// libFuzzer target: psctl's argument and value parsing (client/cli_parse.h),
// the request it builds from them as psctl's `get` does, served by a small
// store as the server would, and the JSON psctl prints of the result and of
// value bytes a server sends.
//
// Input: lines, each one flag's text in this order: --shape, --dtype,
// --reuse, --initializer, --value, --value_shape, --minval, --maxval, --mean,
// --stddev, --scale, --mode, --distribution, then value bytes (the rest).
// Every parse may only fail with INVALID_ARGUMENT; the JSON of an existing
// variable's value always renders.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "client/cli_parse.h"
#include "client/json_format.h"
#include "common/dtype.h"
#include "fuzz/fuzz_util.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

// The value of a parse; nullopt (after checking the error) when it failed.
template <typename T>
std::optional<T> Parsed(absl::StatusOr<T> value) {
  if (value.ok()) return *std::move(value);
  Check(absl::IsInvalidArgument(value.status()));
  return std::nullopt;
}

// The request psctl's `get` sends, or nullopt when a flag does not parse.
std::optional<VariableRequest> Request(
    const std::vector<absl::string_view>& flag) {
  VariableRequest request;
  request.name = "v";
  const auto shape = Parsed(ParseShape(flag[0]));
  const auto dtype = Parsed(ParseDType(flag[1]));
  const auto reuse = Parsed(ParseReuse(flag[2]));
  const auto kind = Parsed(ParseInitializerKind(flag[3]));
  const auto values = Parsed(ParseNumberList(flag[4]));
  const auto value_shape = Parsed(ParseShape(flag[5]));
  const auto minval = Parsed(ParseOptionalNumber("minval", flag[6]));
  const auto maxval = Parsed(ParseOptionalNumber("maxval", flag[7]));
  const auto mean = Parsed(ParseOptionalNumber("mean", flag[8]));
  const auto stddev = Parsed(ParseOptionalNumber("stddev", flag[9]));
  const auto scale = Parsed(ParseOptionalNumber("scale", flag[10]));
  const auto mode = Parsed(ParseFanMode(flag[11]));
  const auto distribution = Parsed(ParseDistribution(flag[12]));
  if (!shape || !dtype || !reuse || !kind || !values || !value_shape ||
      !minval || !maxval || !mean || !stddev || !scale || !mode ||
      !distribution) {
    return std::nullopt;
  }
  request.shape = *shape;
  request.dtype = *dtype;
  request.reuse = *reuse;
  InitializerSpec& init = request.initializer;
  init.kind = *kind;
  init.values = *values;
  if (!flag[5].empty()) init.value_shape = *value_shape;
  init.minval = *minval;
  init.maxval = *maxval;
  if (*mean) init.mean = (*mean)->ToDouble();
  if (*stddev) init.stddev = (*stddev)->ToDouble();
  if (*scale) init.scale = (*scale)->ToDouble();
  init.mode = *mode;
  init.distribution = *distribution;
  init.seed = 7;
  return request;
}

}  // namespace
}  // namespace paramserver

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paramserver;
  constexpr int kFlags = 13;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<absl::string_view> flag =
      absl::StrSplit(input, absl::MaxSplits('\n', kFlags));
  flag.resize(kFlags + 1);
  std::optional<VariableRequest> request = Request(flag);
  if (!request) return 0;
  // Rendering bytes a server sent, for the shape and dtype asked for.
  VariableInfo info;
  info.name = "v";
  if (request->shape) info.shape = *request->shape;
  if (request->dtype) info.dtype = *request->dtype;
  absl::StatusOr<std::string> json = ValuesToJson(info, flag[kFlags]);
  Check(json.ok() || absl::IsInvalidArgument(json.status()));
  // The variable created from the flags, and its JSON with values.
  absl::StatusOr<VariableStore::GetResult> got =
      SmallStore().GetVariable(*request);
  if (!got.ok()) return 0;
  const VariableSnapshot& snapshot = got->snapshot;
  const absl::string_view value(snapshot.value->data(), snapshot.value->size());
  const bool created = got->created;
  Check(VariableToJson(snapshot.info, &created, &value).ok());
  Check(SmallStore().DeleteVariable("v").ok());
  return 0;
}
