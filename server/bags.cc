#include "server/bags.h"

#include <cstring>
#include <vector>

namespace paramserver {
namespace {

// out += w * in. The rows never overlap (`out` is the result, `in` the
// table).
void AddScaled(const float* __restrict in, float w, int64_t width,
               float* __restrict out) {
  for (int64_t j = 0; j < width; ++j) out[j] += in[j] * w;
}

constexpr size_t kPrefetchDistance = 4;

void Prefetch(const float* row, int64_t width) {
  const char* bytes = reinterpret_cast<const char*>(row);
  for (int64_t offset = 0; offset < width * 4; offset += 64) {
    __builtin_prefetch(bytes + offset);
  }
}

}  // namespace

void PoolRows(const BagSpec& bags, absl::Span<const int64_t> ids,
              const float* table, int64_t width, float* out) {
  for (size_t b = 0; b < bags.offsets.size(); ++b) {
    float* row = out + b * width;
    std::memset(row, 0, width * sizeof(float));
    const size_t begin = static_cast<size_t>(bags.offsets[b]);
    const size_t end = BagEnd(bags, b, ids.size());
    if (begin == end) continue;
    for (size_t k = begin; k < end; ++k) {
      // The rows are scattered over the table: ask for one a few ids ahead
      // while this one is added.
      if (k + kPrefetchDistance < ids.size()) {
        Prefetch(table + ids[k + kPrefetchDistance] * width, width);
      }
      AddScaled(table + ids[k] * width, BagWeight(bags, k), width, row);
    }
    if (bags.combiner == Combiner::kSum) continue;
    const float divisor = BagDivisor(bags, begin, end);
    for (int64_t j = 0; j < width; ++j) row[j] /= divisor;
  }
}

std::string SpreadBagGradient(const BagSpec& bags, size_t num_ids,
                              absl::string_view bag_rows, int64_t width) {
  std::string spread(num_ids * width * sizeof(float), '\0');
  std::vector<float> bag(width);
  float* out = reinterpret_cast<float*>(spread.data());
  for (size_t b = 0; b < bags.offsets.size(); ++b) {
    const size_t begin = static_cast<size_t>(bags.offsets[b]);
    const size_t end = BagEnd(bags, b, num_ids);
    if (begin == end) continue;
    std::memcpy(bag.data(), bag_rows.data() + b * width * sizeof(float),
                width * sizeof(float));
    const float divisor = BagDivisor(bags, begin, end);
    for (size_t k = begin; k < end; ++k) {
      const float w = BagWeight(bags, k);
      float* row = out + k * width;
      for (int64_t j = 0; j < width; ++j) row[j] = bag[j] * w / divisor;
    }
  }
  return spread;
}

}  // namespace paramserver
