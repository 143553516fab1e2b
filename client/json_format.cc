#include "client/json_format.h"

#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_writer.h"
#include "common/tensor_shape.h"

namespace paramserver {
namespace {

template <typename T>
T Load(const char* data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return value;
}

void AppendElement(DType dtype, const char* data, JsonWriter& json) {
  switch (dtype) {
    case DType::kFloat:
      json.Float(Load<float>(data));
      return;
    case DType::kDouble:
      json.Double(Load<double>(data));
      return;
    case DType::kInt32:
      json.Int(Load<int32_t>(data));
      return;
    case DType::kInt64:
      json.Int(Load<int64_t>(data));
      return;
    case DType::kBool:
      json.Bool(data[0] != 0);
      return;
  }
}

// Writes the elements of `bytes` as an array; INVALID_ARGUMENT (nothing
// written) when they do not match the shape and dtype.
absl::Status WriteValues(const VariableInfo& info, absl::string_view bytes,
                         JsonWriter& json) {
  absl::StatusOr<uint64_t> needed = ValueByteSize(info.shape, info.dtype);
  if (!needed.ok() && !absl::IsOutOfRange(needed.status())) {
    return needed.status();
  }
  const size_t element_size = DTypeSize(info.dtype);
  if (!needed.ok() || bytes.size() != *needed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Value of ", info.name, " has ", bytes.size(), " bytes; shape ",
        ShapeToString(info.shape), " and dtype ", DTypeName(info.dtype),
        " need ", NumElements(info.shape).value_or(0), " elements of ",
        element_size, " bytes."));
  }
  const int64_t elements = static_cast<int64_t>(*needed / element_size);
  json.BeginArray();
  for (int64_t i = 0; i < elements; ++i) {
    AppendElement(info.dtype, bytes.data() + i * element_size, json);
  }
  json.EndArray();
  return absl::OkStatus();
}

// Opens the object and writes "name", "shape", "dtype" and "version".
void WriteInfoHead(const VariableInfo& info, JsonWriter& json) {
  json.BeginObject().Key("name").String(info.name).Key("shape").BeginArray();
  for (int64_t dim : info.shape) json.Int(dim);
  json.EndArray()
      .Key("dtype")
      .String(DTypeName(info.dtype))
      .Key("version")
      .Int(info.version);
}

}  // namespace

absl::StatusOr<std::string> ValuesToJson(const VariableInfo& info,
                                         absl::string_view bytes) {
  JsonWriter json;
  if (absl::Status s = WriteValues(info, bytes, json); !s.ok()) return s;
  return json.text();
}

std::string TableToJson(const TableStatus& table) {
  static const char* const kOptimizers[] = {"SGD",  "MOMENTUM", "ADAGRAD",
                                            "ADAM", "FTRL",     "LAZY_ADAM"};
  const int optimizer = static_cast<int>(table.spec.optimizer);
  const TableCounters& c = table.counters;
  JsonWriter json;
  json.BeginObject()
      .Key("name")
      .String(table.name)
      .Key("width")
      .Int(table.spec.width)
      .Key("capacity")
      .Int(table.spec.capacity)
      .Key("id_shards")
      .Int(table.spec.id_shard_count)
      .Key("optimizer")
      .String(optimizer >= 0 && optimizer < 6 ? kOptimizers[optimizer] : "?")
      .Key("admit_after")
      .Int(table.spec.admit_after)
      .Key("evict_when_full")
      .Bool(table.spec.evict_when_full)
      .Key("ttl_seconds")
      .Int(table.spec.ttl_micros / 1000000)
      .Key("seed")
      .Int(table.spec.initializer.seed.value_or(0))
      .Key("stored_rows")
      .Int(c.stored_rows)
      .Key("admitted")
      .Int(c.admitted)
      .Key("evicted_idle")
      .Int(c.evicted_idle)
      .Key("evicted_capacity")
      .Int(c.evicted_capacity)
      .Key("lookup_ids")
      .Int(c.lookup_ids)
      .Key("lookup_hits")
      .Int(c.lookup_hits)
      .Key("dropped_gradient_rows")
      .Int(c.dropped_gradient_rows)
      .Key("steps")
      .Int(c.steps)
      .Key("bytes")
      .Uint(c.bytes)
      .EndObject();
  return json.text();
}

absl::StatusOr<std::string> RowsToJson(const VariableInfo& info,
                                       absl::Span<const int64_t> ids,
                                       absl::string_view rows) {
  VariableInfo row = info;
  if (!row.shape.empty()) row.shape.erase(row.shape.begin());
  const size_t row_bytes = ids.empty() ? 0 : rows.size() / ids.size();
  if (info.shape.empty() || row_bytes * ids.size() != rows.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(rows.size(), " bytes of rows of ", info.name,
                     " do not make ", ids.size(), " rows."));
  }
  JsonWriter json;
  WriteInfoHead(info, json);
  json.Key("ids").BeginArray();
  for (int64_t id : ids) json.Int(id);
  json.EndArray().Key("rows").BeginArray();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (absl::Status s =
            WriteValues(row, rows.substr(i * row_bytes, row_bytes), json);
        !s.ok()) {
      return s;
    }
  }
  json.EndArray().EndObject();
  return json.text();
}

absl::StatusOr<std::string> VariableToJson(const VariableInfo& info,
                                           const bool* created,
                                           const absl::string_view* values) {
  JsonWriter json;
  WriteInfoHead(info, json);
  json.Key("trainable").Bool(info.trainable);
  if (created != nullptr) json.Key("created").Bool(*created);
  if (values != nullptr) {
    json.Key("values");
    if (absl::Status s = WriteValues(info, *values, json); !s.ok()) return s;
  }
  json.EndObject();
  return json.text();
}

}  // namespace paramserver
