// embedding_lookup_sparse's pooling and its gradient against hand-computed
// values and finite differences.
#include "server/bags.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::ElementsAre;

// 4 rows of width 2: row r is {r + 1, -(r + 1)}.
const std::vector<float> kTable = {1, -1, 2, -2, 3, -3, 4, -4};

std::vector<float> Pool(const BagSpec& bags, const std::vector<int64_t>& ids) {
  std::vector<float> out(bags.offsets.size() * 2, -99);
  PoolRows(bags, ids, kTable.data(), 2, out.data());
  return out;
}

TEST(PoolRowsTest, CombinesAsEmbeddingLookupSparse) {
  // Bags {0, 2}, {} and {3, 3, 1}, weighted.
  const std::vector<int64_t> ids = {0, 2, 3, 3, 1};
  const std::vector<int64_t> offsets = {0, 2, 2};
  const std::vector<float> weights = {1, 3, 0.5, 0.5, 2};
  BagSpec bags{offsets, weights, Combiner::kSum};
  // Bag 0: 1*1 + 3*3 = 10; bag 2: 0.5*4 + 0.5*4 + 2*2 = 8.
  EXPECT_THAT(Pool(bags, ids), ElementsAre(10, -10, 0, -0, 8, -8));
  bags.combiner = Combiner::kMean;  // Divided by 4 and by 3.
  EXPECT_THAT(Pool(bags, ids),
              ElementsAre(2.5, -2.5, 0, 0, 8.0f / 3, -8.0f / 3));
  bags.combiner = Combiner::kSqrtn;  // By sqrt(10) and sqrt(4.5).
  const std::vector<float> sqrtn = Pool(bags, ids);
  EXPECT_FLOAT_EQ(sqrtn[0], 10 / std::sqrt(10.0f));
  EXPECT_FLOAT_EQ(sqrtn[4], 8 / std::sqrt(4.5f));
  // Without weights: every weight is 1 (mean of {4, 4, 2} is 10/3).
  bags = {offsets, {}, Combiner::kMean};
  EXPECT_FLOAT_EQ(Pool(bags, ids)[4], 10.0f / 3);
}

// The gradient of L = sum_b <g_b, pooled_b> with respect to the table, by
// central differences, equals the spread rows summed per id.
TEST(SpreadBagGradientTest, IsTheGradientOfThePooledLookup) {
  const std::vector<int64_t> ids = {0, 2, 3, 3, 1};
  const std::vector<int64_t> offsets = {0, 2, 2};
  const std::vector<float> weights = {1, 3, 0.5, 0.5, 2};
  const std::vector<float> g = {0.5, -1, 7, 7, 2, 0.25};
  const std::string g_bytes(reinterpret_cast<const char*>(g.data()),
                            g.size() * 4);
  for (Combiner combiner :
       {Combiner::kSum, Combiner::kMean, Combiner::kSqrtn}) {
    const BagSpec bags{offsets, weights, combiner};
    const std::string spread = SpreadBagGradient(bags, ids.size(), g_bytes, 2);
    ASSERT_EQ(spread.size(), ids.size() * 2 * 4);
    std::vector<float> rows(ids.size() * 2);
    std::memcpy(rows.data(), spread.data(), spread.size());
    std::vector<double> analytic(kTable.size(), 0);
    for (size_t k = 0; k < ids.size(); ++k) {
      for (int j = 0; j < 2; ++j) analytic[ids[k] * 2 + j] += rows[k * 2 + j];
    }
    for (size_t e = 0; e < kTable.size(); ++e) {
      const auto loss = [&](float delta) {
        std::vector<float> table = kTable;
        table[e] += delta;
        std::vector<float> out(6);
        PoolRows(bags, ids, table.data(), 2, out.data());
        double sum = 0;
        for (size_t i = 0; i < out.size(); ++i) sum += double(g[i]) * out[i];
        return sum;
      };
      const double numeric = (loss(1e-2f) - loss(-1e-2f)) / 2e-2;
      EXPECT_NEAR(analytic[e], numeric, 1e-3) << "element " << e;
    }
  }
}

}  // namespace
}  // namespace paramserver
