#include "wire/proto_convert.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/names.h"

namespace paramserver {
namespace {

TensorShape FromProto(const rpc::TensorShape& proto) {
  return TensorShape(proto.dims().begin(), proto.dims().end());
}

void ToProto(const TensorShape& shape, rpc::TensorShape* proto) {
  proto->mutable_dims()->Assign(shape.begin(), shape.end());
}

absl::StatusOr<DType> DTypeFromProto(int value) {
  if (!IsValidDType(value)) return InvalidEnum("dtype", value);
  return static_cast<DType>(value);
}

absl::StatusOr<ReuseMode> ReuseFromProto(int value) {
  switch (value) {
    case rpc::CREATE:
      return ReuseMode::kCreate;
    case rpc::REUSE:
      return ReuseMode::kReuse;
    case rpc::AUTO_REUSE:
      return ReuseMode::kAutoReuse;
  }
  return InvalidEnum("reuse", value);
}

rpc::ReuseMode ReuseToProto(ReuseMode reuse) {
  switch (reuse) {
    case ReuseMode::kCreate:
      return rpc::CREATE;
    case ReuseMode::kReuse:
      return rpc::REUSE;
    case ReuseMode::kAutoReuse:
      return rpc::AUTO_REUSE;
  }
  return rpc::CREATE;
}

// The wire enums of Initializer are numbered like the C++ enums.
absl::Status CheckInitializerEnums(const rpc::Initializer& proto) {
  if (!rpc::Initializer::Kind_IsValid(proto.kind())) {
    return InvalidEnum("initializer.kind", proto.kind());
  }
  if (!rpc::Initializer::Mode_IsValid(proto.mode())) {
    return InvalidEnum("initializer.mode", proto.mode());
  }
  if (!rpc::Initializer::Distribution_IsValid(proto.distribution())) {
    return InvalidEnum("initializer.distribution", proto.distribution());
  }
  return absl::OkStatus();
}

// The exact integer when the wire has one, else the double.
std::optional<Number> BoundFromProto(bool has_integer, int64_t integer,
                                     bool has_double, double floating) {
  if (has_integer) return Number(integer);
  if (has_double) return Number(floating);
  return std::nullopt;
}

absl::StatusOr<std::vector<Number>> ValuesFromProto(
    const rpc::Initializer& proto) {
  if (proto.int64_values_size() == 0) {
    return std::vector<Number>(proto.values().begin(), proto.values().end());
  }
  if (proto.values_size() != 0 &&
      proto.values_size() != proto.int64_values_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "initializer.values has ", proto.values_size(),
        " values but initializer.int64_values has ", proto.int64_values_size(),
        "; they must be the same list."));
  }
  return std::vector<Number>(proto.int64_values().begin(),
                             proto.int64_values().end());
}

bool AllIntegers(const std::vector<Number>& values) {
  for (const Number& value : values) {
    if (!value.is_integer()) return false;
  }
  return true;
}

}  // namespace

absl::Status InvalidEnum(absl::string_view field, int value) {
  return absl::InvalidArgumentError(
      absl::StrCat("Unknown value ", value, " for field '", field, "'."));
}

absl::StatusOr<InitializerSpec> FromProto(const rpc::Initializer& proto) {
  if (absl::Status s = CheckInitializerEnums(proto); !s.ok()) return s;
  InitializerSpec spec;
  spec.kind = static_cast<InitializerKind>(proto.kind());
  absl::StatusOr<std::vector<Number>> values = ValuesFromProto(proto);
  if (!values.ok()) return values.status();
  spec.values = *std::move(values);
  if (proto.has_value_shape())
    spec.value_shape = FromProto(proto.value_shape());
  if (proto.has_full_shape()) spec.full_shape = FromProto(proto.full_shape());
  spec.minval = BoundFromProto(proto.has_int64_minval(), proto.int64_minval(),
                               proto.has_minval(), proto.minval());
  spec.maxval = BoundFromProto(proto.has_int64_maxval(), proto.int64_maxval(),
                               proto.has_maxval(), proto.maxval());
  if (proto.has_mean()) spec.mean = proto.mean();
  if (proto.has_stddev()) spec.stddev = proto.stddev();
  if (proto.has_scale()) spec.scale = proto.scale();
  spec.mode = static_cast<FanMode>(proto.mode());
  spec.distribution = static_cast<ScalingDistribution>(proto.distribution());
  if (proto.has_seed()) spec.seed = proto.seed();
  return spec;
}

void ToProto(const InitializerSpec& spec, rpc::Initializer* proto) {
  proto->set_kind(static_cast<rpc::Initializer::Kind>(spec.kind));
  for (const Number& value : spec.values) proto->add_values(value.ToDouble());
  if (!spec.values.empty() && AllIntegers(spec.values)) {
    for (const Number& value : spec.values) {
      proto->add_int64_values(value.integer());
    }
  }
  if (spec.value_shape)
    ToProto(*spec.value_shape, proto->mutable_value_shape());
  if (spec.minval) {
    proto->set_minval(spec.minval->ToDouble());
    if (spec.minval->is_integer())
      proto->set_int64_minval(spec.minval->integer());
  }
  if (spec.maxval) {
    proto->set_maxval(spec.maxval->ToDouble());
    if (spec.maxval->is_integer())
      proto->set_int64_maxval(spec.maxval->integer());
  }
  if (spec.mean) proto->set_mean(*spec.mean);
  if (spec.stddev) proto->set_stddev(*spec.stddev);
  if (spec.scale) proto->set_scale(*spec.scale);
  proto->set_mode(static_cast<rpc::Initializer::Mode>(spec.mode));
  proto->set_distribution(
      static_cast<rpc::Initializer::Distribution>(spec.distribution));
  if (spec.seed) proto->set_seed(*spec.seed);
  if (spec.full_shape) ToProto(*spec.full_shape, proto->mutable_full_shape());
}

absl::StatusOr<VariableRequest> FromProto(
    const rpc::GetVariableRequest& proto) {
  VariableRequest request;
  request.scope = proto.scope();
  request.name = proto.name();
  absl::StatusOr<ReuseMode> reuse = ReuseFromProto(proto.reuse());
  if (!reuse.ok()) return reuse.status();
  request.reuse = *reuse;
  if (proto.has_shape()) request.shape = FromProto(proto.shape());
  if (proto.dtype() != rpc::DT_INVALID) {
    absl::StatusOr<DType> dtype = DTypeFromProto(proto.dtype());
    if (!dtype.ok()) return dtype.status();
    request.dtype = *dtype;
  }
  absl::StatusOr<InitializerSpec> initializer = FromProto(proto.initializer());
  if (!initializer.ok()) return initializer.status();
  request.initializer = *std::move(initializer);
  request.trainable = proto.has_trainable() ? proto.trainable() : true;
  return request;
}

void ToProto(const VariableRequest& request, rpc::GetVariableRequest* proto) {
  proto->set_scope(request.scope);
  proto->set_name(request.name);
  proto->set_reuse(ReuseToProto(request.reuse));
  if (request.shape) ToProto(*request.shape, proto->mutable_shape());
  if (request.dtype)
    proto->set_dtype(static_cast<rpc::DataType>(*request.dtype));
  ToProto(request.initializer, proto->mutable_initializer());
  proto->set_trainable(request.trainable);
}

absl::StatusOr<VariableInfo> FromProto(const rpc::VariableInfo& proto) {
  absl::StatusOr<DType> dtype = DTypeFromProto(proto.dtype());
  if (!dtype.ok()) return dtype.status();
  return VariableInfo{proto.name(), FromProto(proto.shape()), *dtype,
                      proto.version(), proto.trainable()};
}

void ToProto(const VariableInfo& info, rpc::VariableInfo* proto) {
  proto->set_name(info.name);
  ToProto(info.shape, proto->mutable_shape());
  proto->set_dtype(static_cast<rpc::DataType>(info.dtype));
  proto->set_version(info.version);
  proto->set_trainable(info.trainable);
}

absl::StatusOr<OptimizerSpec> FromProto(const rpc::Optimizer& proto) {
  if (!rpc::Optimizer::Kind_IsValid(proto.kind())) {
    return InvalidEnum("optimizer.kind", proto.kind());
  }
  OptimizerSpec spec;
  spec.kind = static_cast<OptimizerKind>(proto.kind());
  spec.learning_rate = proto.learning_rate();
  if (proto.has_momentum()) spec.momentum = proto.momentum();
  spec.use_nesterov = proto.use_nesterov();
  if (proto.has_initial_accumulator_value()) {
    spec.initial_accumulator_value = proto.initial_accumulator_value();
  }
  if (proto.has_beta1()) spec.beta1 = proto.beta1();
  if (proto.has_beta2()) spec.beta2 = proto.beta2();
  if (proto.has_epsilon()) spec.epsilon = proto.epsilon();
  if (proto.has_learning_rate_power()) {
    spec.learning_rate_power = proto.learning_rate_power();
  }
  if (proto.has_l1_regularization_strength()) {
    spec.l1_regularization_strength = proto.l1_regularization_strength();
  }
  if (proto.has_l2_regularization_strength()) {
    spec.l2_regularization_strength = proto.l2_regularization_strength();
  }
  if (proto.has_l2_shrinkage_regularization_strength()) {
    spec.l2_shrinkage_regularization_strength =
        proto.l2_shrinkage_regularization_strength();
  }
  return spec;
}

void ToProto(const OptimizerSpec& spec, rpc::Optimizer* proto) {
  proto->set_kind(static_cast<rpc::Optimizer::Kind>(spec.kind));
  proto->set_learning_rate(spec.learning_rate);
  proto->set_momentum(spec.momentum);
  proto->set_use_nesterov(spec.use_nesterov);
  proto->set_initial_accumulator_value(spec.initial_accumulator_value);
  proto->set_beta1(spec.beta1);
  proto->set_beta2(spec.beta2);
  proto->set_epsilon(spec.epsilon);
  proto->set_learning_rate_power(spec.learning_rate_power);
  proto->set_l1_regularization_strength(spec.l1_regularization_strength);
  proto->set_l2_regularization_strength(spec.l2_regularization_strength);
  proto->set_l2_shrinkage_regularization_strength(
      spec.l2_shrinkage_regularization_strength);
}

void ToProto(const PushSpec& push, rpc::PushRequest* proto) {
  ToProto(push.optimizer, proto->mutable_optimizer());
  proto->set_max_staleness(push.max_staleness);
  proto->set_push_id(push.push_id);
  for (const VariableUpdate& update : push.updates) {
    rpc::Update* out = proto->add_updates();
    out->set_name(update.name);
    out->set_kind(static_cast<rpc::Update::Kind>(update.kind));
    out->set_value(update.value.data(), update.value.size());
    if (update.base_version) out->set_base_version(*update.base_version);
  }
}

absl::StatusOr<PushSpec> FromProto(const rpc::PushRequest& proto) {
  PushSpec push;
  absl::StatusOr<OptimizerSpec> optimizer = FromProto(proto.optimizer());
  if (!optimizer.ok()) return optimizer.status();
  push.optimizer = *optimizer;
  push.max_staleness = proto.max_staleness();
  push.push_id = proto.push_id();
  push.updates.reserve(proto.updates_size());
  for (const rpc::Update& update : proto.updates()) {
    if (!rpc::Update::Kind_IsValid(update.kind())) {
      return InvalidEnum("update.kind", update.kind());
    }
    VariableUpdate spec;
    spec.name = update.name();
    spec.kind = static_cast<UpdateKind>(update.kind());
    spec.value = update.value();
    if (update.has_base_version()) spec.base_version = update.base_version();
    push.updates.push_back(std::move(spec));
  }
  return push;
}

absl::StatusOr<BagSpec> FromProto(const rpc::Bags& proto) {
  if (!rpc::Bags::Combiner_IsValid(proto.combiner())) {
    return InvalidEnum("bags.combiner", proto.combiner());
  }
  BagSpec bags;
  bags.offsets =
      absl::MakeConstSpan(proto.offsets().data(), proto.offsets_size());
  bags.weights =
      absl::MakeConstSpan(proto.weights().data(), proto.weights_size());
  bags.combiner = static_cast<Combiner>(proto.combiner());
  return bags;
}

void ToProto(const BagSpec& bags, rpc::Bags* proto) {
  proto->mutable_offsets()->Add(bags.offsets.begin(), bags.offsets.end());
  proto->mutable_weights()->Add(bags.weights.begin(), bags.weights.end());
  proto->set_combiner(static_cast<rpc::Bags::Combiner>(bags.combiner));
}

absl::StatusOr<RowUpdateSpec> FromProto(const rpc::PushRowsRequest& proto) {
  if (!rpc::Update::Kind_IsValid(proto.kind())) {
    return InvalidEnum("kind", proto.kind());
  }
  absl::StatusOr<OptimizerSpec> optimizer = FromProto(proto.optimizer());
  if (!optimizer.ok()) return optimizer.status();
  RowUpdateSpec push;
  push.name = proto.name();
  push.kind = static_cast<UpdateKind>(proto.kind());
  push.ids = absl::MakeConstSpan(proto.ids().data(), proto.ids_size());
  push.rows = proto.rows();
  push.optimizer = *optimizer;
  if (proto.has_base_version()) push.base_version = proto.base_version();
  push.max_staleness = proto.max_staleness();
  if (proto.has_bags()) {
    absl::StatusOr<BagSpec> bags = FromProto(proto.bags());
    if (!bags.ok()) return bags.status();
    push.bags = *bags;
  }
  push.push_id = proto.push_id();
  return push;
}

void ToProto(const RowUpdateSpec& push, rpc::PushRowsRequest* proto) {
  proto->set_name(push.name);
  proto->set_kind(static_cast<rpc::Update::Kind>(push.kind));
  proto->mutable_ids()->Add(push.ids.begin(), push.ids.end());
  proto->set_rows(push.rows.data(), push.rows.size());
  ToProto(push.optimizer, proto->mutable_optimizer());
  if (push.base_version) proto->set_base_version(*push.base_version);
  proto->set_max_staleness(push.max_staleness);
  if (push.bags) ToProto(*push.bags, proto->mutable_bags());
  proto->set_push_id(push.push_id);
}

absl::StatusOr<TableSpec> FromProto(const rpc::TableSpec& proto) {
  if (!rpc::Optimizer::Kind_IsValid(proto.optimizer())) {
    return InvalidEnum("optimizer", proto.optimizer());
  }
  absl::StatusOr<InitializerSpec> initializer = FromProto(proto.initializer());
  if (!initializer.ok()) return initializer.status();
  if (proto.ttl_seconds() < 0 ||
      proto.ttl_seconds() > std::numeric_limits<int64_t>::max() / 1000000) {
    return absl::InvalidArgumentError(
        absl::StrCat("ttl_seconds must be in [0, ",
                     std::numeric_limits<int64_t>::max() / 1000000, "], got ",
                     proto.ttl_seconds(), "."));
  }
  TableSpec spec;
  spec.width = proto.width();
  spec.initializer = *std::move(initializer);
  spec.optimizer = static_cast<OptimizerKind>(proto.optimizer());
  if (proto.has_initial_accumulator_value()) {
    spec.initial_accumulator_value = proto.initial_accumulator_value();
  }
  spec.admit_after = std::max<uint32_t>(1, proto.admit_after());
  spec.capacity = proto.capacity();
  spec.evict_when_full = !proto.refuse_when_full();
  spec.ttl_micros = proto.ttl_seconds() * 1000000;
  spec.id_shard_index = proto.id_shard_index();
  spec.id_shard_count =
      proto.id_shard_count() == 0 ? 1 : proto.id_shard_count();
  return spec;
}

void ToProto(const TableSpec& spec, rpc::TableSpec* proto) {
  proto->set_width(spec.width);
  ToProto(spec.initializer, proto->mutable_initializer());
  proto->set_optimizer(static_cast<rpc::Optimizer::Kind>(spec.optimizer));
  proto->set_initial_accumulator_value(spec.initial_accumulator_value);
  proto->set_admit_after(spec.admit_after);
  proto->set_capacity(spec.capacity);
  proto->set_refuse_when_full(!spec.evict_when_full);
  proto->set_ttl_seconds(spec.ttl_micros / 1000000);
  proto->set_id_shard_index(spec.id_shard_index);
  proto->set_id_shard_count(spec.id_shard_count);
}

void ToProto(const TableCounters& counters, rpc::TableStats* proto) {
  proto->set_stored_rows(counters.stored_rows);
  proto->set_admitted(counters.admitted);
  proto->set_evicted_idle(counters.evicted_idle);
  proto->set_evicted_capacity(counters.evicted_capacity);
  proto->set_lookup_ids(counters.lookup_ids);
  proto->set_lookup_hits(counters.lookup_hits);
  proto->set_dropped_gradient_rows(counters.dropped_gradient_rows);
  proto->set_steps(counters.steps);
  proto->set_bytes(static_cast<int64_t>(counters.bytes));
}

absl::StatusOr<TableStatus> FromProto(const rpc::GetTableResponse& proto) {
  absl::StatusOr<TableSpec> spec = FromProto(proto.spec());
  if (!spec.ok()) return spec.status();
  TableStatus status;
  status.name = proto.name();
  status.spec = *std::move(spec);
  status.created = proto.created();
  const rpc::TableStats& stats = proto.stats();
  status.counters.stored_rows = stats.stored_rows();
  status.counters.admitted = stats.admitted();
  status.counters.evicted_idle = stats.evicted_idle();
  status.counters.evicted_capacity = stats.evicted_capacity();
  status.counters.lookup_ids = stats.lookup_ids();
  status.counters.lookup_hits = stats.lookup_hits();
  status.counters.dropped_gradient_rows = stats.dropped_gradient_rows();
  status.counters.steps = stats.steps();
  status.counters.bytes =
      static_cast<size_t>(std::max<int64_t>(0, stats.bytes()));
  return status;
}

absl::StatusOr<TableRequest> FromProto(const rpc::GetTableRequest& proto) {
  absl::StatusOr<ReuseMode> reuse = ReuseFromProto(proto.reuse());
  if (!reuse.ok()) return reuse.status();
  absl::StatusOr<TableSpec> spec = FromProto(proto.spec());
  if (!spec.ok()) return spec.status();
  TableRequest request;
  request.name = JoinScope(proto.scope(), proto.name());
  request.reuse = *reuse;
  request.spec = *std::move(spec);
  return request;
}

}  // namespace paramserver

namespace paramserver {

static_assert(static_cast<int>(OptimizerKind::kAdam) == rpc::Optimizer::ADAM);
static_assert(static_cast<int>(OptimizerKind::kFtrl) == rpc::Optimizer::FTRL);
static_assert(static_cast<int>(OptimizerKind::kLazyAdam) ==
              rpc::Optimizer::LAZY_ADAM);
static_assert(static_cast<int>(Combiner::kSqrtn) == rpc::Bags::SQRTN);
static_assert(static_cast<int>(Combiner::kSum) == rpc::Bags::SUM);
static_assert(static_cast<int>(UpdateKind::kApplyGradient) ==
              rpc::Update::APPLY_GRADIENT);

// FromProto/ToProto cast these enums; keep the numbering in step.
static_assert(static_cast<int>(InitializerKind::kVarianceScaling) ==
              rpc::Initializer::VARIANCE_SCALING);
static_assert(static_cast<int>(InitializerKind::kConstant) ==
              rpc::Initializer::CONSTANT);
static_assert(static_cast<int>(FanMode::kFanAvg) == rpc::Initializer::FAN_AVG);
static_assert(static_cast<int>(ScalingDistribution::kUniform) ==
              rpc::Initializer::UNIFORM_DIST);
static_assert(static_cast<int>(DType::kBool) == rpc::DT_BOOL);
static_assert(static_cast<int>(DType::kInt64) == rpc::DT_INT64);

}  // namespace paramserver
