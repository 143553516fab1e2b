#include "server/admission_sketch.h"

#include <algorithm>

#include "common/mix64.h"

namespace paramserver {
namespace {

size_t RoundUpToPowerOfTwo(size_t n) {
  size_t width = 64;
  while (width < n) width <<= 1;
  return width;
}

}  // namespace

AdmissionSketch::AdmissionSketch(size_t counters_per_row)
    : width_(RoundUpToPowerOfTwo(counters_per_row)),
      counters_(new std::atomic<uint8_t>[kRows * width_]) {
  for (size_t i = 0; i < kRows * width_; ++i) {
    counters_[i].store(0, std::memory_order_relaxed);
  }
}

size_t AdmissionSketch::Index(int row, int64_t id) const {
  // One independent-looking hash per row: the id mixed with the row's own
  // odd constant.
  const uint64_t hash =
      Mix64(static_cast<uint64_t>(id) +
            (2 * static_cast<uint64_t>(row) + 1) * 0x9e3779b97f4a7c15ULL);
  return static_cast<size_t>(row) * width_ + (hash & (width_ - 1));
}

uint32_t AdmissionSketch::Estimate(int64_t id) const {
  uint32_t estimate = kMaxCount;
  for (int row = 0; row < kRows; ++row) {
    estimate = std::min<uint32_t>(
        estimate, counters_[Index(row, id)].load(std::memory_order_relaxed));
  }
  return estimate;
}

uint32_t AdmissionSketch::Add(int64_t id) {
  // Conservative update: only the counters at the current minimum go up,
  // which keeps every estimate an upper bound and makes it tighter.
  size_t index[kRows];
  uint32_t minimum = kMaxCount;
  for (int row = 0; row < kRows; ++row) {
    index[row] = Index(row, id);
    minimum = std::min<uint32_t>(
        minimum, counters_[index[row]].load(std::memory_order_relaxed));
  }
  if (minimum == kMaxCount) return kMaxCount;
  const uint32_t target = minimum + 1;
  for (int row = 0; row < kRows; ++row) {
    uint8_t value = counters_[index[row]].load(std::memory_order_relaxed);
    // Raise to `target` unless a concurrent Add already went past it.
    while (value < target && !counters_[index[row]].compare_exchange_weak(
                                 value, static_cast<uint8_t>(target),
                                 std::memory_order_relaxed)) {
    }
  }
  return target;
}

}  // namespace paramserver
