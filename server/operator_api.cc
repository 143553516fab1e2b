#include "server/operator_api.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/json_writer.h"
#include "common/tensor_shape.h"
#include "server/server_figures.h"

namespace paramserver {
namespace {

uint64_t BytesOf(const VariableInfo& info) {
  absl::StatusOr<uint64_t> bytes = ValueByteSize(info.shape, info.dtype);
  return bytes.ok() ? *bytes : 0;
}

// "shape", "dtype", "bytes", "version", "trainable": what the tree and the
// details say of every variable, in that order.
void VariableFields(const VariableInfo& info, JsonWriter& json) {
  json.Key("shape").BeginArray();
  for (int64_t dim : info.shape) json.Int(dim);
  json.EndArray()
      .Key("dtype")
      .String(DTypeName(info.dtype))
      .Key("bytes")
      .Uint(BytesOf(info))
      .Key("version")
      .Int(info.version)
      .Key("trainable")
      .Bool(info.trainable);
}

struct ScopeEntry {
  int64_t variables = 0;
  uint64_t bytes = 0;
  absl::Time last_update = absl::UnixEpoch();
};

struct VariableEntry {
  const VariableStore::VariableStatus* status = nullptr;
  int64_t slots = 0;
  uint64_t slot_bytes = 0;
};

// The name without its last component ("" for a top-level name).
absl::string_view Parent(absl::string_view name) {
  const size_t slash = name.rfind('/');
  return slash == absl::string_view::npos ? absl::string_view()
                                          : name.substr(0, slash);
}

double ElementAt(DType dtype, const char* data, uint64_t index) {
  switch (dtype) {
    case DType::kFloat: {
      float value;
      std::memcpy(&value, data + index * 4, 4);
      return value;
    }
    case DType::kDouble: {
      double value;
      std::memcpy(&value, data + index * 8, 8);
      return value;
    }
    case DType::kInt32: {
      int32_t value;
      std::memcpy(&value, data + index * 4, 4);
      return value;
    }
    case DType::kInt64: {
      int64_t value;
      std::memcpy(&value, data + index * 8, 8);
      return static_cast<double>(value);
    }
    case DType::kBool:
      return data[index] != 0 ? 1 : 0;
  }
  return 0;
}

}  // namespace

std::string ScopeJson(absl::string_view scope,
                      const std::vector<VariableStore::VariableStatus>& under,
                      const NameFilter& visible, size_t max_children) {
  const size_t skip = scope.empty() ? 0 : scope.size() + 1;
  std::map<std::string, ScopeEntry> scopes;
  std::map<std::string, VariableEntry> variables;
  ScopeEntry total;
  // Variables first, so that slots can find their variable.
  for (const VariableStore::VariableStatus& status : under) {
    const std::string& name = status.info.name;
    if (name.size() <= skip || status.is_slot || !visible(name)) continue;
    const absl::string_view rest = absl::string_view(name).substr(skip);
    const size_t slash = rest.find('/');
    ScopeEntry* entry = nullptr;
    if (slash == absl::string_view::npos) {
      variables[name].status = &status;
    } else {
      entry = &scopes[std::string(name.substr(0, skip + slash))];
      ++entry->variables;
    }
    ++total.variables;
    for (ScopeEntry* counted : {entry, &total}) {
      if (counted == nullptr) continue;
      counted->bytes += BytesOf(status.info);
      counted->last_update = std::max(counted->last_update, status.last_update);
    }
  }
  for (const VariableStore::VariableStatus& status : under) {
    const std::string& name = status.info.name;
    if (name.size() <= skip || !status.is_slot || !visible(name)) continue;
    const uint64_t bytes = BytesOf(status.info);
    auto owner = variables.find(std::string(Parent(name)));
    if (owner != variables.end()) {
      ++owner->second.slots;
      owner->second.slot_bytes += bytes;
    } else {
      const absl::string_view rest = absl::string_view(name).substr(skip);
      auto child =
          scopes.find(std::string(name.substr(0, skip + rest.find('/'))));
      if (child == scopes.end()) continue;  // Its variable is not shown.
      child->second.bytes += bytes;
    }
    total.bytes += bytes;
  }
  JsonWriter json;
  json.BeginObject()
      .Key("scope")
      .String(scope)
      .Key("variables")
      .Int(total.variables)
      .Key("bytes")
      .Uint(total.bytes)
      .Key("children")
      .BeginArray();
  size_t shown = 0;
  for (const auto& [name, entry] : scopes) {
    if (shown == max_children) break;
    ++shown;
    json.BeginObject()
        .Key("kind")
        .String("scope")
        .Key("name")
        .String(name)
        .Key("variables")
        .Int(entry.variables)
        .Key("bytes")
        .Uint(entry.bytes)
        .Key("last_update")
        .Double(UnixSeconds(entry.last_update))
        .EndObject();
  }
  for (const auto& [name, entry] : variables) {
    if (shown == max_children) break;
    ++shown;
    const VariableInfo& info = entry.status->info;
    json.BeginObject().Key("kind").String("variable").Key("name").String(name);
    VariableFields(info, json);
    json.Key("last_update")
        .Double(UnixSeconds(entry.status->last_update))
        .Key("slots")
        .Int(entry.slots)
        .Key("slot_bytes")
        .Uint(entry.slot_bytes)
        .EndObject();
  }
  json.EndArray()
      .Key("children_left_out")
      .Uint(scopes.size() + variables.size() - shown)
      .EndObject();
  return json.text();
}

ValueHistogram HistogramOf(DType dtype, absl::string_view bytes, int buckets,
                           uint64_t max_samples) {
  ValueHistogram histogram;
  const uint64_t size = DTypeSize(dtype);
  histogram.elements = bytes.size() / size;
  if (histogram.elements > max_samples && max_samples > 0) {
    histogram.stride = (histogram.elements + max_samples - 1) / max_samples;
  }
  double min = std::numeric_limits<double>::infinity();
  double max = -min;
  double sum = 0;
  uint64_t finite = 0;
  for (uint64_t i = 0; i < histogram.elements; i += histogram.stride) {
    const double value = ElementAt(dtype, bytes.data(), i);
    ++histogram.sampled;
    if (!std::isfinite(value)) {
      ++histogram.nonfinite;
      continue;
    }
    ++finite;
    sum += value;
    min = std::min(min, value);
    max = std::max(max, value);
  }
  if (finite == 0 || buckets <= 0) return histogram;
  histogram.min = min;
  histogram.max = max;
  histogram.mean = sum / static_cast<double>(finite);
  // One bucket when every element is equal.
  // Halves throughout, so that neither max - min nor value - min overflows
  // (a double variable may hold -1e308 and 1e308). One bucket when every
  // element is equal, or their range is too small to split.
  const double half_width = (max / 2 - min / 2) / buckets;
  const int count = half_width > 0 && std::isfinite(half_width) ? buckets : 1;
  histogram.bucket_width = count > 1 ? 2 * half_width : 0;
  histogram.counts.assign(count, 0);
  double squares = 0;
  for (uint64_t i = 0; i < histogram.elements; i += histogram.stride) {
    const double value = ElementAt(dtype, bytes.data(), i);
    if (!std::isfinite(value)) continue;
    squares += (value - histogram.mean) * (value - histogram.mean);
    int bucket = 0;
    if (count > 1) {
      const double position = (value / 2 - min / 2) / half_width;
      // NaN cannot reach here (finite values, positive width); clamp
      // before converting, which is only defined in range.
      if (position >= count) {
        bucket = count - 1;
      } else if (position > 0) {
        bucket = static_cast<int>(position);
      }
    }
    ++histogram.counts[bucket];
  }
  histogram.stddev = std::sqrt(squares / static_cast<double>(finite));
  return histogram;
}

absl::StatusOr<std::string> VariableJson(
    absl::string_view name,
    const std::vector<VariableStore::VariableStatus>& described,
    absl::string_view value) {
  const VariableStore::VariableStatus* variable = nullptr;
  for (const VariableStore::VariableStatus& status : described) {
    if (status.info.name == name) variable = &status;
  }
  if (variable == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("Variable ", name, " does not exist."));
  }
  const VariableInfo& info = variable->info;
  JsonWriter json;
  json.BeginObject().Key("name").String(name);
  VariableFields(info, json);
  json.Key("slot")
      .Bool(variable->is_slot)
      .Key("last_update")
      .Double(UnixSeconds(variable->last_update))
      .Key("slots")
      .BeginArray();
  for (const VariableStore::VariableStatus& status : described) {
    if (!status.is_slot || Parent(status.info.name) != name) continue;
    json.BeginObject()
        .Key("name")
        .String(status.info.name)
        .Key("bytes")
        .Uint(BytesOf(status.info))
        .Key("version")
        .Int(status.info.version)
        .Key("last_update")
        .Double(UnixSeconds(status.last_update))
        .EndObject();
  }
  const ValueHistogram histogram = HistogramOf(info.dtype, value);
  json.EndArray()
      .Key("histogram")
      .BeginObject()
      .Key("elements")
      .Uint(histogram.elements)
      .Key("stride")
      .Uint(histogram.stride)
      .Key("sampled")
      .Uint(histogram.sampled)
      .Key("nonfinite")
      .Uint(histogram.nonfinite)
      .Key("min")
      .Double(histogram.min)
      .Key("max")
      .Double(histogram.max)
      .Key("mean")
      .Double(histogram.mean)
      .Key("stddev")
      .Double(histogram.stddev)
      .Key("buckets")
      .BeginArray();
  for (size_t i = 0; i < histogram.counts.size(); ++i) {
    const double left = histogram.min + histogram.bucket_width * i;
    const double right = i + 1 == histogram.counts.size()
                             ? histogram.max
                             : left + histogram.bucket_width;
    json.BeginObject()
        .Key("left")
        .Double(left)
        .Key("right")
        .Double(right)
        .Key("count")
        .Uint(histogram.counts[i])
        .EndObject();
  }
  json.EndArray().EndObject().EndObject();
  return json.text();
}

}  // namespace paramserver
