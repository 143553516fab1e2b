#include "server/durability/table_codec.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;

// Every field set to something other than its default.
TableSpec FullSpec() {
  TableSpec spec;
  spec.width = 64;
  spec.initializer.kind = InitializerKind::kVarianceScaling;
  spec.initializer.values = {Number(int64_t{1} << 60), Number(-0.25)};
  spec.initializer.value_shape = TensorShape{2};
  spec.initializer.minval = Number(-3);
  spec.initializer.maxval = Number(2.5);
  spec.initializer.mean = 0.5;
  spec.initializer.stddev = 0.01;
  spec.initializer.scale = 2.0;
  spec.initializer.mode = FanMode::kFanAvg;
  spec.initializer.distribution = ScalingDistribution::kUniform;
  spec.initializer.seed = -77;
  spec.initializer.full_shape = TensorShape{1000000, 64};
  spec.optimizer = OptimizerKind::kFtrl;
  spec.initial_accumulator_value = 0.3;
  spec.admit_after = 5;
  spec.capacity = 123456;
  spec.evict_when_full = false;
  spec.ttl_micros = 86'400'000'000;
  spec.id_shard_index = 2;
  spec.id_shard_count = 5;
  return spec;
}

TEST(TableCodecTest, ASpecReadsBackAsWritten) {
  const TableSpec spec = FullSpec();
  std::string bytes;
  EncodeTableSpec(spec, &bytes);
  ByteReader reader(bytes);
  TableSpec decoded;
  ASSERT_TRUE(DecodeTableSpec(&reader, &decoded).ok());
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_EQ(decoded.width, 64);
  const InitializerSpec& i = decoded.initializer;
  EXPECT_EQ(i.kind, InitializerKind::kVarianceScaling);
  ASSERT_EQ(i.values.size(), 2u);
  EXPECT_TRUE(i.values[0].is_integer());
  EXPECT_EQ(i.values[0].integer(), int64_t{1} << 60);
  EXPECT_EQ(i.values[1], Number(-0.25));
  EXPECT_EQ(i.value_shape, (TensorShape{2}));
  EXPECT_EQ(*i.minval, Number(-3));
  EXPECT_EQ(*i.maxval, Number(2.5));
  EXPECT_EQ(*i.mean, 0.5);
  EXPECT_EQ(*i.stddev, 0.01);
  EXPECT_EQ(*i.scale, 2.0);
  EXPECT_EQ(i.mode, FanMode::kFanAvg);
  EXPECT_EQ(i.distribution, ScalingDistribution::kUniform);
  EXPECT_EQ(*i.seed, -77);
  EXPECT_EQ(i.full_shape, (TensorShape{1000000, 64}));
  EXPECT_EQ(decoded.optimizer, OptimizerKind::kFtrl);
  EXPECT_EQ(decoded.initial_accumulator_value, 0.3);
  EXPECT_EQ(decoded.admit_after, 5u);
  EXPECT_EQ(decoded.capacity, 123456);
  EXPECT_FALSE(decoded.evict_when_full);
  EXPECT_EQ(decoded.ttl_micros, 86'400'000'000);
  EXPECT_EQ(decoded.id_shard_index, 2);
  EXPECT_EQ(decoded.id_shard_count, 5);

  // Unset optionals stay unset.
  TableSpec plain;
  plain.width = 8;
  plain.initializer.seed = 1;
  bytes.clear();
  EncodeTableSpec(plain, &bytes);
  ByteReader plain_reader(bytes);
  ASSERT_TRUE(DecodeTableSpec(&plain_reader, &decoded).ok());
  EXPECT_FALSE(decoded.initializer.stddev.has_value());
  EXPECT_FALSE(decoded.initializer.full_shape.has_value());
  EXPECT_TRUE(decoded.initializer.values.empty());
  EXPECT_TRUE(decoded.evict_when_full);
}

// Every prefix of a valid encoding is refused with DATA_LOSS, and so are
// enums out of range: damaged bytes never decode into a table.
TEST(TableCodecTest, TruncatedOrOutOfRangeSpecsAreRefused) {
  std::string bytes;
  EncodeTableSpec(FullSpec(), &bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    ByteReader reader(absl::string_view(bytes).substr(0, n));
    TableSpec decoded;
    EXPECT_EQ(DecodeTableSpec(&reader, &decoded).code(),
              absl::StatusCode::kDataLoss)
        << n;
  }
  std::string bad_version = bytes;
  bad_version[0] = 3;
  ByteReader version_reader(bad_version);
  TableSpec decoded;
  EXPECT_EQ(DecodeTableSpec(&version_reader, &decoded).code(),
            absl::StatusCode::kDataLoss);
  std::string bad_kind = bytes;
  bad_kind[12] = 99;  // After the version (4) and width (8): the kind.
  ByteReader kind_reader(bad_kind);
  EXPECT_EQ(DecodeTableSpec(&kind_reader, &decoded).code(),
            absl::StatusCode::kDataLoss);
  // The id shard (the last 8 bytes): index 5 of 5 is no shard.
  std::string bad_shard = bytes;
  bad_shard[bytes.size() - 8] = 5;
  ByteReader shard_reader(bad_shard);
  EXPECT_EQ(DecodeTableSpec(&shard_reader, &decoded).code(),
            absl::StatusCode::kDataLoss);
}

// A spec written before tables could be spread (version 1, no id shard)
// reads as a whole table.
TEST(TableCodecTest, AVersionOneSpecIsAWholeTable) {
  std::string bytes;
  EncodeTableSpec(FullSpec(), &bytes);
  bytes.resize(bytes.size() - 8);
  bytes[0] = 1;
  ByteReader reader(bytes);
  TableSpec decoded;
  ASSERT_TRUE(DecodeTableSpec(&reader, &decoded).ok());
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_EQ(decoded.capacity, 123456);
  EXPECT_EQ(decoded.id_shard_index, 0);
  EXPECT_EQ(decoded.id_shard_count, 1);

  // A whole table is written as version 1, which older binaries read.
  TableSpec whole = FullSpec();
  whole.id_shard_index = 0;
  whole.id_shard_count = 1;
  std::string whole_bytes;
  EncodeTableSpec(whole, &whole_bytes);
  EXPECT_EQ(whole_bytes, bytes);
}

TEST(TableCodecTest, AChangeReadsBackAsWritten) {
  const std::vector<int64_t> written = {5, -9};
  const std::vector<float> entries = {1, 2, 3, 4, 5, 6};  // 3 floats each.
  const std::vector<int64_t> evicted = {int64_t{1} << 62};
  std::string bytes;
  const std::vector<int64_t> last_use = {100, 200};
  TableChange written_change;
  written_change.time_micros = 1234;
  written_change.steps = 7;
  written_change.written_ids = written;
  written_change.written_entries = entries;
  written_change.written_last_use = last_use;
  written_change.evicted_ids = evicted;
  EncodeTableChange(written_change, 3, &bytes);
  ByteReader reader(bytes);
  DecodedTableChange change;
  ASSERT_TRUE(DecodeTableChange(&reader, &change).ok());
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_EQ(change.time_micros, 1234);
  EXPECT_EQ(change.steps, 7);
  EXPECT_THAT(change.written_ids, ElementsAre(5, -9));
  EXPECT_EQ(change.entry_floats, 3);
  EXPECT_THAT(change.written_entries, ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_THAT(change.written_last_use, ElementsAre(100, 200));
  EXPECT_THAT(change.evicted_ids, ElementsAre(int64_t{1} << 62));

  // An eviction alone (no entries) with a wide table's entry size.
  bytes.clear();
  TableChange eviction;
  eviction.time_micros = 1;
  eviction.evicted_ids = evicted;
  EncodeTableChange(eviction, 1 << 20, &bytes);
  ByteReader evict_reader(bytes);
  ASSERT_TRUE(DecodeTableChange(&evict_reader, &change).ok());
  EXPECT_TRUE(change.written_ids.empty());
  EXPECT_TRUE(change.written_last_use.empty());
  EXPECT_THAT(change.evicted_ids, ElementsAre(int64_t{1} << 62));
  EXPECT_TRUE(change.touched_ids.empty());

  // Last uses that lookups moved, beside a write.
  const std::vector<int64_t> touched = {3, -4}, touched_use = {50, 60};
  written_change.touched_ids = touched;
  written_change.touched_last_use = touched_use;
  bytes.clear();
  EncodeTableChange(written_change, 3, &bytes);
  ByteReader touch_reader(bytes);
  ASSERT_TRUE(DecodeTableChange(&touch_reader, &change).ok());
  EXPECT_EQ(touch_reader.remaining(), 0u);
  EXPECT_THAT(change.written_ids, ElementsAre(5, -9));
  EXPECT_THAT(change.touched_ids, ElementsAre(3, -4));
  EXPECT_THAT(change.touched_last_use, ElementsAre(50, 60));
  EXPECT_THAT(change.View().touched_last_use, ElementsAre(50, 60));

  for (size_t n = 0; n < bytes.size(); ++n) {
    ByteReader truncated(absl::string_view(bytes).substr(0, n));
    EXPECT_EQ(DecodeTableChange(&truncated, &change).code(),
              absl::StatusCode::kDataLoss)
        << n;
  }
  // Counts that claim more than the bytes hold are refused before any
  // allocation of their size.
  std::string huge;
  PutFixed64(&huge, 1);
  PutFixed64(&huge, 0);
  PutFixed64(&huge, uint64_t{1} << 61);  // Written ids.
  ByteReader huge_reader(huge);
  EXPECT_EQ(DecodeTableChange(&huge_reader, &change).code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace paramserver
