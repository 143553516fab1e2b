#ifndef PARAM_SERVER_SERVER_ADMISSION_SKETCH_H_
#define PARAM_SERVER_SERVER_ADMISSION_SKETCH_H_

// How often each id of a dynamic table has been seen, in fixed memory: a
// count-min sketch (Cormode & Muthukrishnan, 2005) with conservative update,
// the structure Monolith's occurrence threshold keeps in its counting Bloom
// filter. An estimate is never below the true count (so an id is never
// admitted late) and can be above it when ids share counters (so an id can be
// admitted early); counters saturate at 255. Thread-safe without locks.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace paramserver {

class AdmissionSketch {
 public:
  // Four rows of `counters_per_row` one-byte counters (rounded up to a power
  // of two, at least 64).
  explicit AdmissionSketch(size_t counters_per_row);

  static constexpr int kRows = 4;
  static constexpr uint32_t kMaxCount = 255;

  // Counts one sighting of `id` and returns its estimated count since the
  // sketch was made, this sighting included.
  uint32_t Add(int64_t id);
  // The estimated count of `id`, without counting.
  uint32_t Estimate(int64_t id) const;

  size_t bytes() const { return kRows * width_; }

 private:
  size_t Index(int row, int64_t id) const;

  const size_t width_;                                      // A power of two.
  const std::unique_ptr<std::atomic<uint8_t>[]> counters_;  // kRows * width_.
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_ADMISSION_SKETCH_H_
