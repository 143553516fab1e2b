#include "client/shard_placement.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;

// Placement is part of the wire contract: workers built from different
// versions must agree on it, so these values may never change.
// The expected values come from an independent implementation of FNV-1a,
// SplitMix64's finalizer and jump consistent hash.
TEST(ShardPlacementTest, PlacementIsFixedAcrossVersions) {
  EXPECT_EQ(NameFingerprint(""), 0xf52a15e9a9b5e89bull);
  EXPECT_EQ(NameFingerprint("conv1/weights"), 0x9a7902a779556220ull);
  const int shards[] = {2, 3, 4, 8};
  const int conv1_biases[] = {1, 2, 3, 5};
  const int student_conv1_weights[] = {0, 2, 2, 6};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ShardForName("conv1/biases", shards[i]), conv1_biases[i]);
    EXPECT_EQ(ShardForName("student/conv1/weights", shards[i]),
              student_conv1_weights[i]);
  }
}

// The cases the Python client checks too (client/python/paramserver/
// placement.py): both languages place every name alike.
TEST(ShardPlacementTest, AgreesWithTheSharedCasesTable) {
  std::ifstream cases("client/testdata/placement_cases.tsv");
  ASSERT_TRUE(cases.good());
  std::string line;
  int checked = 0;
  while (std::getline(cases, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    ASSERT_EQ(fields.size(), 3u) << line;
    int servers = 0, shard = 0;
    ASSERT_TRUE(absl::SimpleAtoi(fields[1], &servers)) << line;
    ASSERT_TRUE(absl::SimpleAtoi(fields[2], &shard)) << line;
    EXPECT_EQ(ShardForVariable(fields[0], servers), shard) << line;
    ++checked;
  }
  EXPECT_EQ(checked, 150);
}

TEST(ShardPlacementTest, FingerprintIsFnv1aThenSplitMix) {
  // FNV-1a of "a" is 0xaf63dc4c8601ec8c; SplitMix64's finalizer of that:
  uint64_t z = 0xaf63dc4c8601ec8cull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  EXPECT_EQ(NameFingerprint("a"), z);
}

TEST(ShardPlacementTest, OneShardTakesEverything) {
  EXPECT_EQ(ShardForName("anything", 1), 0);
  EXPECT_EQ(ShardForPartition("anything", 5, 1), 0);
}

TEST(ShardPlacementTest, NamesSpreadEvenlyOverShards) {
  constexpr int kShards = 4, kNames = 8000;
  std::vector<int> counts(kShards);
  for (int i = 0; i < kNames; ++i) {
    const int shard = ShardForName(
        absl::StrCat("tower", i % 7, "/layer", i, "/weights"), kShards);
    ASSERT_GE(shard, 0);
    ASSERT_LT(shard, kShards);
    ++counts[shard];
  }
  for (int count : counts) {
    EXPECT_GT(count, kNames / kShards * 9 / 10);
    EXPECT_LT(count, kNames / kShards * 11 / 10);
  }
}

TEST(ShardPlacementTest, AddingAShardMovesOnlyItsShare) {
  constexpr int kNames = 10000;
  int moved = 0;
  for (int i = 0; i < kNames; ++i) {
    const std::string name = absl::StrCat("v", i);
    const int before = ShardForName(name, 3), after = ShardForName(name, 4);
    if (before != after) {
      ++moved;
      EXPECT_EQ(after, 3) << name;  // Keys only move to the new shard.
    }
  }
  EXPECT_GT(moved, kNames / 4 * 8 / 10);
  EXPECT_LT(moved, kNames / 4 * 12 / 10);
}

TEST(ShardForVariableTest, SlotsAndPartsLiveWithTheirVariable) {
  for (int shards : {2, 3, 5}) {
    for (const char* name : {"conv1/weights", "emb", "a/b/c"}) {
      const int home = ShardForName(name, shards);
      EXPECT_EQ(ShardForVariable(name, shards), home);
      for (const char* slot : {"Momentum", "Adagrad", "Adam", "Adam_1"}) {
        EXPECT_EQ(ShardForVariable(absl::StrCat(name, "/", slot), shards),
                  home);
      }
      for (int p = 0; p < 4; ++p) {
        const std::string part = PartitionName(name, p);
        EXPECT_EQ(ShardForVariable(part, shards),
                  ShardForPartition(name, p, shards));
        EXPECT_EQ(ShardForVariable(part + "/Adam_1", shards),
                  ShardForPartition(name, p, shards));
      }
    }
  }
  // Look-alikes are ordinary names.
  EXPECT_EQ(ShardForVariable("x/part_", 7), ShardForName("x/part_", 7));
  EXPECT_EQ(ShardForVariable("x/part_1a", 7), ShardForName("x/part_1a", 7));
  EXPECT_EQ(ShardForVariable("x/Adam_2", 7), ShardForName("x/Adam_2", 7));
  EXPECT_EQ(ShardForVariable("Adam", 7), ShardForName("Adam", 7));
}

TEST(PartitionRowsTest, MatchesFixedSizePartitioner) {
  EXPECT_THAT(PartitionRows(10, 3), ElementsAre(4, 3, 3));
  EXPECT_THAT(PartitionRows(9, 3), ElementsAre(3, 3, 3));
  EXPECT_THAT(PartitionRows(11, 4), ElementsAre(3, 3, 3, 2));
  EXPECT_THAT(PartitionRows(2, 5), ElementsAre(1, 1));  // Never an empty part.
  EXPECT_THAT(PartitionRows(7, 1), ElementsAre(7));
}

TEST(PartitionNameTest, UsesTensorFlowsSuffix) {
  EXPECT_EQ(PartitionName("embedding/weights", 2), "embedding/weights/part_2");
}

TEST(ShardForPartitionTest, ConsecutivePartsGoToConsecutiveShards) {
  const int first = ShardForName("emb", 3);
  for (int p = 0; p < 6; ++p)
    EXPECT_EQ(ShardForPartition("emb", p, 3), (first + p) % 3);
}

}  // namespace
}  // namespace paramserver
