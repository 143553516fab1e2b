#include "wire/proto_convert.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(ProtoConvertTest, GetVariableRequestRoundTrips) {
  VariableRequest request;
  request.scope = "conv1";
  request.name = "weights";
  request.reuse = ReuseMode::kAutoReuse;
  request.shape = TensorShape{5, 5, 32, 32};
  request.dtype = DType::kDouble;
  request.initializer.kind = InitializerKind::kVarianceScaling;
  request.initializer.scale = 2.0;
  request.initializer.mode = FanMode::kFanAvg;
  request.initializer.distribution = ScalingDistribution::kUniform;
  request.initializer.seed = 42;
  request.trainable = false;

  rpc::GetVariableRequest proto;
  ToProto(request, &proto);
  absl::StatusOr<VariableRequest> back = FromProto(proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->scope, "conv1");
  EXPECT_EQ(back->name, "weights");
  EXPECT_EQ(back->reuse, ReuseMode::kAutoReuse);
  EXPECT_EQ(back->shape, request.shape);
  EXPECT_EQ(back->dtype, DType::kDouble);
  EXPECT_EQ(back->initializer.kind, InitializerKind::kVarianceScaling);
  EXPECT_EQ(back->initializer.scale, 2.0);
  EXPECT_FALSE(back->initializer.mean.has_value());
  EXPECT_EQ(back->initializer.mode, FanMode::kFanAvg);
  EXPECT_EQ(back->initializer.distribution, ScalingDistribution::kUniform);
  EXPECT_EQ(back->initializer.seed, 42);
  EXPECT_FALSE(back->trainable);
}

// Integers cross the wire exactly (int64_values, int64_minval/maxval) and
// also as doubles, which is all a server that predates those fields reads.
TEST(ProtoConvertTest, IntegersTravelExactly) {
  constexpr int64_t kBig = (int64_t{1} << 53) + 1;
  InitializerSpec spec;
  spec.kind = InitializerKind::kConstant;
  spec.values = {kBig, -3};
  spec.minval = -kBig;
  spec.maxval = kBig;
  rpc::Initializer proto;
  ToProto(spec, &proto);
  ASSERT_EQ(proto.int64_values_size(), 2);
  EXPECT_EQ(proto.int64_values(0), kBig);
  ASSERT_EQ(proto.values_size(), 2);
  EXPECT_EQ(proto.values(1), -3.0);
  EXPECT_EQ(proto.minval(), -0x1p53);
  EXPECT_EQ(proto.int64_maxval(), kBig);
  absl::StatusOr<InitializerSpec> back = FromProto(proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->values, spec.values);
  EXPECT_EQ(*back->minval, Number(-kBig));
  EXPECT_EQ(*back->maxval, Number(kBig));

  // A list with a fraction travels as doubles only.
  spec.values = {1, 2.5};
  spec.maxval = 0.5;
  proto.Clear();
  ToProto(spec, &proto);
  EXPECT_EQ(proto.int64_values_size(), 0);
  EXPECT_FALSE(proto.has_int64_maxval());
  back = FromProto(proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->values[0].is_integer());
  EXPECT_EQ(back->values, spec.values);
  EXPECT_EQ(*back->maxval, Number(0.5));

  // Both lists set must be one list.
  proto.add_int64_values(1);
  EXPECT_EQ(FromProto(proto).status().code(),
            absl::StatusCode::kInvalidArgument);
  proto.clear_values();
  back = FromProto(proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->values, std::vector<Number>{1});
}

TEST(ProtoConvertTest, UnsetFieldsTakeTensorFlowDefaults) {
  rpc::GetVariableRequest proto;
  proto.set_name("v");
  absl::StatusOr<VariableRequest> request = FromProto(proto);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->reuse, ReuseMode::kCreate);
  EXPECT_FALSE(request->shape.has_value());
  EXPECT_FALSE(request->dtype.has_value());
  EXPECT_TRUE(request->trainable);
  EXPECT_EQ(request->initializer.kind, InitializerKind::kDefault);
}

TEST(ProtoConvertTest, UnknownEnumValuesAreInvalidArgument) {
  rpc::GetVariableRequest proto;
  proto.set_name("v");
  proto.set_reuse(static_cast<rpc::ReuseMode>(7));
  EXPECT_EQ(FromProto(proto).status().code(),
            absl::StatusCode::kInvalidArgument);

  proto.set_reuse(rpc::REUSE);
  proto.set_dtype(static_cast<rpc::DataType>(7));  // DT_STRING
  absl::Status status = FromProto(proto).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "Unknown value 7 for field 'dtype'.");

  proto.set_dtype(rpc::DT_FLOAT);
  proto.mutable_initializer()->set_kind(
      static_cast<rpc::Initializer::Kind>(99));
  EXPECT_EQ(FromProto(proto).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProtoConvertTest, FtrlSettingsTravelAndDefaultAsTensorFlows) {
  rpc::Optimizer proto;
  proto.set_kind(rpc::Optimizer::FTRL);
  proto.set_learning_rate(3.0);
  absl::StatusOr<OptimizerSpec> defaults = FromProto(proto);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->kind, OptimizerKind::kFtrl);
  EXPECT_EQ(defaults->learning_rate, 3.0);
  EXPECT_EQ(defaults->learning_rate_power, -0.5);
  EXPECT_EQ(defaults->initial_accumulator_value, 0.1);
  EXPECT_EQ(defaults->l1_regularization_strength, 0.0);
  EXPECT_EQ(defaults->l2_regularization_strength, 0.0);
  EXPECT_EQ(defaults->l2_shrinkage_regularization_strength, 0.0);

  OptimizerSpec spec = *defaults;
  spec.learning_rate_power = -0.7;
  spec.l1_regularization_strength = 0.001;
  spec.l2_regularization_strength = 2.0;
  spec.l2_shrinkage_regularization_strength = 0.1;
  ToProto(spec, &proto);
  absl::StatusOr<OptimizerSpec> back = FromProto(proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->learning_rate_power, -0.7);
  EXPECT_EQ(back->l1_regularization_strength, 0.001);
  EXPECT_EQ(back->l2_regularization_strength, 2.0);
  EXPECT_EQ(back->l2_shrinkage_regularization_strength, 0.1);

  proto.set_kind(rpc::Optimizer::LAZY_ADAM);
  back = FromProto(proto);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->kind, OptimizerKind::kLazyAdam);
}

}  // namespace
}  // namespace paramserver
