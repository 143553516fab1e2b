#include "server/admission_sketch.h"

#include <cstdint>
#include <map>
#include <random>

#include "gtest/gtest.h"

namespace paramserver {
namespace {

TEST(AdmissionSketchTest, CountsExactlyWhileIdsDoNotShareCounters) {
  AdmissionSketch sketch(1 << 16);
  EXPECT_EQ(sketch.Estimate(42), 0u);
  EXPECT_EQ(sketch.Add(42), 1u);
  EXPECT_EQ(sketch.Add(42), 2u);
  EXPECT_EQ(sketch.Add(-7), 1u);
  EXPECT_EQ(sketch.Estimate(42), 2u);
  EXPECT_EQ(sketch.Estimate(-7), 1u);
  EXPECT_EQ(sketch.Estimate(43), 0u);
}

// Many ids in few counters: every estimate stays at or above the true count
// (an id is never admitted late), whatever the collisions.
TEST(AdmissionSketchTest, NeverUnderestimatesUnderCollisions) {
  AdmissionSketch sketch(64);
  std::map<int64_t, uint32_t> truth;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const int64_t id = static_cast<int64_t>(rng() % 5000) - 2500;
    const uint32_t estimate = sketch.Add(id);
    const uint32_t count = ++truth[id];
    ASSERT_GE(estimate, std::min(count, AdmissionSketch::kMaxCount)) << id;
  }
  for (const auto& [id, count] : truth) {
    EXPECT_GE(sketch.Estimate(id), std::min(count, AdmissionSketch::kMaxCount))
        << id;
  }
}

TEST(AdmissionSketchTest, SaturatesAtTheLargestCount) {
  AdmissionSketch sketch(64);
  for (int i = 0; i < 300; ++i) sketch.Add(5);
  EXPECT_EQ(sketch.Estimate(5), AdmissionSketch::kMaxCount);
  EXPECT_EQ(sketch.Add(5), AdmissionSketch::kMaxCount);
}

TEST(AdmissionSketchTest, RoundsItsWidthUpToAPowerOfTwo) {
  EXPECT_EQ(AdmissionSketch(0).bytes(), AdmissionSketch::kRows * 64u);
  EXPECT_EQ(AdmissionSketch(1000).bytes(), AdmissionSketch::kRows * 1024u);
}

}  // namespace
}  // namespace paramserver
