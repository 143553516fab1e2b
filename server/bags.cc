#include "server/bags.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace paramserver {
namespace {

size_t BagEnd(const BagSpec& bags, size_t b, size_t num_ids) {
  return b + 1 < bags.offsets.size() ? static_cast<size_t>(bags.offsets[b + 1])
                                     : num_ids;
}

float Weight(const BagSpec& bags, size_t k) {
  return bags.weights.empty() ? 1.0f : bags.weights[k];
}

// What the combiner divides bag [begin, end)'s weighted sum by.
float Divisor(const BagSpec& bags, size_t begin, size_t end) {
  if (bags.combiner == Combiner::kSum) return 1.0f;
  float sum = 0;
  for (size_t k = begin; k < end; ++k) {
    const float w = Weight(bags, k);
    sum += bags.combiner == Combiner::kMean ? w : w * w;
  }
  return bags.combiner == Combiner::kMean ? sum : std::sqrt(sum);
}

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

absl::Status CheckBags(const BagSpec& bags, size_t num_ids) {
  if (bags.combiner != Combiner::kMean && bags.combiner != Combiner::kSum &&
      bags.combiner != Combiner::kSqrtn) {
    return absl::InvalidArgumentError(
        absl::StrCat("Unknown combiner ", static_cast<int>(bags.combiner),
                     "; embedding_lookup_sparse combines by mean, sum or "
                     "sqrtn."));
  }
  if (bags.offsets.size() > kMaxBags) {
    return absl::InvalidArgumentError(
        absl::StrCat("A call may carry at most ", kMaxBags,
                     " bags; this one has ", bags.offsets.size(), "."));
  }
  if (!bags.weights.empty() && bags.weights.size() != num_ids) {
    return absl::InvalidArgumentError(
        absl::StrCat("Bags have ", num_ids, " ids but ", bags.weights.size(),
                     " weights; give one weight per id, or none."));
  }
  if (bags.offsets.empty()) {
    if (num_ids == 0) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(num_ids, " ids in no bag: bag offsets are empty."));
  }
  if (bags.offsets[0] != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bag_offsets[0] = ", bags.offsets[0], "; the first bag starts at 0."));
  }
  for (size_t b = 1; b < bags.offsets.size(); ++b) {
    if (bags.offsets[b] < bags.offsets[b - 1] ||
        bags.offsets[b] > static_cast<int64_t>(num_ids)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bag_offsets[", b, "] = ", bags.offsets[b],
                       " is not in [", bags.offsets[b - 1], ", ", num_ids,
                       "]: offsets never decrease and stay within the ids."));
    }
  }
  return absl::OkStatus();
}

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
      AddScaled(table + ids[k] * width, Weight(bags, k), width, row);
    }
    if (bags.combiner == Combiner::kSum) continue;
    const float divisor = Divisor(bags, begin, end);
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
    const float divisor = Divisor(bags, begin, end);
    for (size_t k = begin; k < end; ++k) {
      const float w = Weight(bags, k);
      float* row = out + k * width;
      for (int64_t j = 0; j < width; ++j) row[j] = bag[j] * w / divisor;
    }
  }
  return spread;
}

}  // namespace paramserver
