#include "server/durability/table_codec.h"

#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/tensor_shape.h"

namespace paramserver {
namespace {

// 2 added the id shard; a version 1 spec is a whole table.
constexpr uint32_t kSpecVersion = 2;

absl::Status Damaged(const char* what) {
  return absl::DataLossError(
      absl::StrCat("A dynamic table's ", what, " on disk is damaged."));
}

void PutDouble(std::string* out, double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  PutFixed64(out, bits);
}

bool ReadDouble(ByteReader* reader, double* value) {
  uint64_t bits;
  if (!reader->ReadFixed64(&bits)) return false;
  std::memcpy(value, &bits, sizeof(bits));
  return true;
}

bool ReadInt64(ByteReader* reader, int64_t* value) {
  uint64_t bits;
  if (!reader->ReadFixed64(&bits)) return false;
  *value = static_cast<int64_t>(bits);
  return true;
}

void PutNumber(std::string* out, const Number& number) {
  out->push_back(number.is_integer() ? 1 : 0);
  if (number.is_integer()) {
    PutFixed64(out, static_cast<uint64_t>(number.integer()));
  } else {
    PutDouble(out, number.ToDouble());
  }
}

bool ReadNumber(ByteReader* reader, Number* number) {
  uint8_t is_integer;
  if (!reader->ReadFixed8(&is_integer) || is_integer > 1) return false;
  if (is_integer == 1) {
    int64_t value;
    if (!ReadInt64(reader, &value)) return false;
    *number = Number(value);
    return true;
  }
  double value;
  if (!ReadDouble(reader, &value)) return false;
  *number = Number(value);
  return true;
}

void PutShape(std::string* out, const TensorShape& shape) {
  PutFixed32(out, static_cast<uint32_t>(shape.size()));
  for (const int64_t dim : shape) PutFixed64(out, static_cast<uint64_t>(dim));
}

bool ReadShape(ByteReader* reader, TensorShape* shape) {
  uint32_t rank;
  if (!reader->ReadFixed32(&rank) || rank > static_cast<uint32_t>(kMaxRank)) {
    return false;
  }
  shape->clear();
  for (uint32_t i = 0; i < rank; ++i) {
    int64_t dim;
    if (!ReadInt64(reader, &dim)) return false;
    shape->push_back(dim);
  }
  return true;
}

// u8 present, then the value.
template <typename T, typename Put>
void PutOptional(std::string* out, const std::optional<T>& value, Put put) {
  out->push_back(value.has_value() ? 1 : 0);
  if (value.has_value()) put(out, *value);
}

template <typename T, typename Read>
bool ReadOptional(ByteReader* reader, std::optional<T>* value, Read read) {
  uint8_t present;
  if (!reader->ReadFixed8(&present) || present > 1) return false;
  if (present == 0) {
    value->reset();
    return true;
  }
  T read_value;
  if (!read(reader, &read_value)) return false;
  *value = read_value;
  return true;
}

void PutInt64(std::string* out, int64_t value) {
  PutFixed64(out, static_cast<uint64_t>(value));
}

void EncodeInitializer(const InitializerSpec& spec, std::string* out) {
  PutFixed32(out, static_cast<uint32_t>(spec.kind));
  PutFixed32(out, static_cast<uint32_t>(spec.values.size()));
  for (const Number& value : spec.values) PutNumber(out, value);
  PutOptional(out, spec.value_shape, PutShape);
  PutOptional(out, spec.minval, PutNumber);
  PutOptional(out, spec.maxval, PutNumber);
  PutOptional(out, spec.mean, PutDouble);
  PutOptional(out, spec.stddev, PutDouble);
  PutOptional(out, spec.scale, PutDouble);
  PutFixed32(out, static_cast<uint32_t>(spec.mode));
  PutFixed32(out, static_cast<uint32_t>(spec.distribution));
  PutOptional(out, spec.seed, PutInt64);
  PutOptional(out, spec.full_shape, PutShape);
}

bool DecodeInitializer(ByteReader* reader, InitializerSpec* spec) {
  uint32_t kind, count;
  if (!reader->ReadFixed32(&kind) ||
      kind > static_cast<uint32_t>(InitializerKind::kVarianceScaling) ||
      !reader->ReadFixed32(&count) || count > reader->remaining() / 9) {
    return false;
  }
  spec->kind = static_cast<InitializerKind>(kind);
  spec->values.resize(count);
  for (Number& value : spec->values) {
    if (!ReadNumber(reader, &value)) return false;
  }
  uint32_t mode, distribution;
  if (!ReadOptional(reader, &spec->value_shape, ReadShape) ||
      !ReadOptional(reader, &spec->minval, ReadNumber) ||
      !ReadOptional(reader, &spec->maxval, ReadNumber) ||
      !ReadOptional(reader, &spec->mean, ReadDouble) ||
      !ReadOptional(reader, &spec->stddev, ReadDouble) ||
      !ReadOptional(reader, &spec->scale, ReadDouble) ||
      !reader->ReadFixed32(&mode) ||
      mode > static_cast<uint32_t>(FanMode::kFanAvg) ||
      !reader->ReadFixed32(&distribution) ||
      distribution > static_cast<uint32_t>(ScalingDistribution::kUniform) ||
      !ReadOptional(reader, &spec->seed, ReadInt64) ||
      !ReadOptional(reader, &spec->full_shape, ReadShape)) {
    return false;
  }
  spec->mode = static_cast<FanMode>(mode);
  spec->distribution = static_cast<ScalingDistribution>(distribution);
  return true;
}

bool ReadIds(ByteReader* reader, std::vector<int64_t>* ids) {
  uint64_t count;
  if (!reader->ReadFixed64(&count) || count > reader->remaining() / 8) {
    return false;
  }
  ids->resize(count);
  for (int64_t& id : *ids) {
    if (!ReadInt64(reader, &id)) return false;
  }
  return true;
}

void PutIds(std::string* out, absl::Span<const int64_t> ids) {
  PutFixed64(out, ids.size());
  for (const int64_t id : ids) PutInt64(out, id);
}

}  // namespace

void EncodeTableSpec(const TableSpec& spec, std::string* out) {
  // A whole table is written as version 1, which binaries from before
  // tables were spread read too.
  const bool whole = spec.id_shard_index == 0 && spec.id_shard_count == 1;
  PutFixed32(out, whole ? 1 : kSpecVersion);
  PutInt64(out, spec.width);
  EncodeInitializer(spec.initializer, out);
  PutFixed32(out, static_cast<uint32_t>(spec.optimizer));
  PutDouble(out, spec.initial_accumulator_value);
  PutFixed32(out, spec.admit_after);
  PutInt64(out, spec.capacity);
  out->push_back(spec.evict_when_full ? 1 : 0);
  PutInt64(out, spec.ttl_micros);
  if (whole) return;
  PutFixed32(out, static_cast<uint32_t>(spec.id_shard_index));
  PutFixed32(out, static_cast<uint32_t>(spec.id_shard_count));
}

absl::Status DecodeTableSpec(ByteReader* reader, TableSpec* spec) {
  uint32_t version, optimizer;
  uint8_t evict;
  if (!reader->ReadFixed32(&version) || version < 1 || version > kSpecVersion ||
      !ReadInt64(reader, &spec->width) ||
      !DecodeInitializer(reader, &spec->initializer) ||
      !reader->ReadFixed32(&optimizer) ||
      optimizer > static_cast<uint32_t>(OptimizerKind::kLazyAdam) ||
      !ReadDouble(reader, &spec->initial_accumulator_value) ||
      !reader->ReadFixed32(&spec->admit_after) ||
      !ReadInt64(reader, &spec->capacity) || !reader->ReadFixed8(&evict) ||
      evict > 1 || !ReadInt64(reader, &spec->ttl_micros)) {
    return Damaged("spec");
  }
  uint32_t shard_index = 0, shard_count = 1;
  if (version >= 2 && (!reader->ReadFixed32(&shard_index) ||
                       !reader->ReadFixed32(&shard_count) || shard_count < 1 ||
                       shard_count > static_cast<uint32_t>(kMaxIdShards) ||
                       shard_index >= shard_count)) {
    return Damaged("spec");
  }
  spec->id_shard_index = static_cast<int32_t>(shard_index);
  spec->id_shard_count = static_cast<int32_t>(shard_count);
  spec->optimizer = static_cast<OptimizerKind>(optimizer);
  spec->evict_when_full = evict == 1;
  return absl::OkStatus();
}

void EncodeTableChange(const TableChange& change, int64_t entry_floats,
                       std::string* out) {
  PutInt64(out, change.time_micros);
  PutInt64(out, change.steps);
  PutIds(out, change.written_ids);
  PutFixed64(out, static_cast<uint64_t>(entry_floats));
  out->append(reinterpret_cast<const char*>(change.written_entries.data()),
              change.written_entries.size() * sizeof(float));
  // Bit 0: the written rows' own last uses follow; bit 1: touched rows
  // follow the evicted ids (a record without them reads as before).
  const bool touched = !change.touched_ids.empty();
  out->push_back(static_cast<char>((change.written_last_use.empty() ? 0 : 1) |
                                   (touched ? 2 : 0)));
  for (const int64_t time : change.written_last_use) PutInt64(out, time);
  PutIds(out, change.evicted_ids);
  if (touched) {
    PutIds(out, change.touched_ids);
    for (const int64_t time : change.touched_last_use) PutInt64(out, time);
  }
}

absl::Status DecodeTableChange(ByteReader* reader, DecodedTableChange* change) {
  uint64_t entry_floats;
  if (!ReadInt64(reader, &change->time_micros) ||
      !ReadInt64(reader, &change->steps) ||
      !ReadIds(reader, &change->written_ids) ||
      !reader->ReadFixed64(&entry_floats) || entry_floats == 0) {
    return Damaged("change");
  }
  // Checked in two steps so that the product cannot overflow.
  const uint64_t ids = change->written_ids.size();
  const uint64_t floats_left = reader->remaining() / sizeof(float);
  if (ids > 0 &&
      (entry_floats > floats_left || ids > floats_left / entry_floats)) {
    return Damaged("change");
  }
  change->entry_floats = static_cast<int64_t>(entry_floats);
  absl::string_view bytes;
  if (!reader->ReadBytes(ids * entry_floats * sizeof(float), &bytes)) {
    return Damaged("change");
  }
  change->written_entries.resize(ids * entry_floats);
  if (!bytes.empty()) {
    std::memcpy(change->written_entries.data(), bytes.data(), bytes.size());
  }
  uint8_t parts;
  if (!reader->ReadFixed8(&parts) || parts > 3 ||
      ((parts & 1) != 0 && ids > reader->remaining() / 8)) {
    return Damaged("change");
  }
  change->written_last_use.resize((parts & 1) != 0 ? ids : 0);
  for (int64_t& time : change->written_last_use) {
    if (!ReadInt64(reader, &time)) return Damaged("change");
  }
  if (!ReadIds(reader, &change->evicted_ids)) return Damaged("change");
  change->touched_ids.clear();
  change->touched_last_use.clear();
  if ((parts & 2) != 0) {
    if (!ReadIds(reader, &change->touched_ids) ||
        change->touched_ids.size() > reader->remaining() / 8) {
      return Damaged("change");
    }
    change->touched_last_use.resize(change->touched_ids.size());
    for (int64_t& time : change->touched_last_use) {
      if (!ReadInt64(reader, &time)) return Damaged("change");
    }
  }
  return absl::OkStatus();
}

}  // namespace paramserver
