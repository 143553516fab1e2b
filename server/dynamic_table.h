#ifndef PARAM_SERVER_SERVER_DYNAMIC_TABLE_H_
#define PARAM_SERVER_SERVER_DYNAMIC_TABLE_H_

// An embedding table without a fixed vocabulary: rows keyed by any int64 id,
// created on first touch, admitted after N sightings, evicted when idle or
// when the table is full (TensorFlow Recommenders-Addons' dynamic_embedding,
// Monolith's and PERSIA's tables). Pure C++, thread-safe.
//
// - A missing id's row is the table's initializer run for that id alone,
//   seeded by (seed, id): every shard and every restart gives an id the same
//   starting row, and a lookup of an id not yet stored returns exactly the
//   row it will be stored with.
// - Admission (Monolith's occurrence threshold): a lookup of a missing id
//   counts a sighting in an AdmissionSketch; the row is stored once the id
//   has been seen admit_after times (1: at once). Until then a lookup returns
//   the initial row, stores nothing, and a gradient for the id is dropped
//   (counted in Stats). Assign and Add store their rows whatever the count.
// - Eviction: rows idle longer than the TTL go, in EvictIdle (which a
//   background thread calls when a sweep interval is set). A table at
//   capacity makes room for a new row by evicting the least recently used
//   row of the new id's stripe (an approximation of global LRU, as Redis's
//   sampled LRU; exact with one stripe), or, with evict_when_full off, fails
//   the whole call with RESOURCE_EXHAUSTED naming the table and its limit.
//
// Every call is atomic: it locks the stripes its ids fall in, in order, and
// holds them until it is done, so a lookup sees a push whole or not at all
// and calls on disjoint stripes run in parallel. Eviction takes one stripe
// at a time. A call that fails changes nothing (admission counts included).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/initializer_spec.h"
#include "common/mutex.h"
#include "common/update_spec.h"
#include "server/admission_sketch.h"

namespace paramserver {

struct DynamicTableOptions {
  std::string name;   // For messages.
  int64_t width = 0;  // Elements per row (float32), 1 .. kMaxWidth.
  // Runs per row on shape [width] (or full_shape's fans, if set); must be
  // seeded, so that a new id's row is the same everywhere.
  InitializerSpec initializer;
  // The optimizer whose slots every row keeps beside it (SlotsFor). Gradient
  // pushes must use this kind; their hyper-parameters may vary except those
  // that set the slots' initial values. Not Adam, which would move every row
  // on every step (LazyAdam is the embedding table's Adam).
  OptimizerKind optimizer = OptimizerKind::kSgd;
  double initial_accumulator_value = 0.1;  // kAdagrad, kFtrl.
  // Sightings before a missing id is stored: 1 .. AdmissionSketch::kMaxCount.
  uint32_t admit_after = 1;
  size_t admission_counters = size_t{1} << 20;  // Per sketch row.
  // Most rows stored; 0: no limit.
  int64_t capacity = 0;
  bool evict_when_full = true;
  // Rows not used for this long are evicted by EvictIdle; 0: never.
  int64_t ttl_micros = 0;
  // How often a background thread calls EvictIdle; 0: no thread.
  int64_t sweep_interval_micros = 0;
  // A power of two, 1 .. 64. Calls whose ids fall in different stripes run
  // in parallel; capacity eviction picks its victim within one.
  int stripes = 64;
  // Microseconds since some epoch; tests give a fake clock.
  std::function<int64_t()> now_micros;
};

class DynamicTable {
 public:
  static constexpr int64_t kMaxWidth = int64_t{1} << 20;

  // INVALID_ARGUMENT for a bad width, initializer (unseeded or invalid for
  // float32 [width]), optimizer, admission count, capacity or stripe count.
  static absl::StatusOr<std::unique_ptr<DynamicTable>> Create(
      DynamicTableOptions options);
  ~DynamicTable();  // Stops the sweeper.

  DynamicTable(const DynamicTable&) = delete;
  DynamicTable& operator=(const DynamicTable&) = delete;

  // The rows of `ids` into `out` (ids.size() * width floats), in order,
  // repeats allowed; counts sightings and stores newly admitted ids.
  // INVALID_ARGUMENT when `out` has another size; RESOURCE_EXHAUSTED when
  // new rows do not fit and evict_when_full is off (nothing changes then).
  absl::Status Lookup(absl::Span<const int64_t> ids, absl::Span<float> out);

  // tf.scatter_update: stores each id's row (the last row of a repeated id
  // wins). tf.scatter_add: adds to each id's row (a missing id starts from
  // its initial row). Both store rows regardless of admission. `rows` holds
  // ids.size() * width floats.
  absl::Status Assign(absl::Span<const int64_t> ids,
                      absl::Span<const float> rows);
  absl::Status Add(absl::Span<const int64_t> ids, absl::Span<const float> rows);

  // One step of `optimizer` on the stored rows of `ids` and their slots,
  // with TensorFlow's sparse semantics (server/sparse_optimizer.h); the
  // gradient rows of ids not stored are dropped. INVALID_ARGUMENT for an
  // optimizer of another kind than the table's, or invalid, or whose slot
  // initial value differs from the table's; for `grad` of another size.
  absl::Status ApplyGradient(const OptimizerSpec& optimizer,
                             absl::Span<const int64_t> ids,
                             absl::Span<const float> grad);

  // Evicts every row idle for longer than the TTL (nothing without one),
  // then, while more rows than the capacity are stored (possible only when
  // an insert found nothing in its stripe it could evict), the least
  // recently used rows of each stripe in turn. Returns how many rows went.
  int64_t EvictIdle();

  struct Stats {
    int64_t stored_rows = 0;
    int64_t admitted = 0;          // Rows stored since creation.
    int64_t evicted_idle = 0;      // By TTL.
    int64_t evicted_capacity = 0;  // To make room.
    int64_t lookup_ids = 0;
    int64_t lookup_hits = 0;            // Ids found stored.
    int64_t dropped_gradient_rows = 0;  // For ids not stored.
    int64_t steps = 0;                  // Gradient pushes applied.
    // Bytes the table holds: rows and slots, ids, last-use times, the index
    // and the admission sketch.
    size_t bytes = 0;
  };
  Stats GetStats() const;

  int64_t width() const { return options_.width; }
  // Floats per stored row: the row, then one row per slot.
  int64_t entry_floats() const { return entry_floats_; }
  const DynamicTableOptions& options() const { return options_; }

 private:
  struct Stripe;
  class StripeLocks;
  // Where a call's ids live: per id, the stripe and the entry within it
  // (kMissing for an id not stored).
  struct Located;

  explicit DynamicTable(DynamicTableOptions options);

  int StripeOf(int64_t id) const;
  uint64_t StripeMask(absl::Span<const int64_t> ids) const;
  // Looks every id up (the stripes of `ids` held).
  Located Locate(absl::Span<const int64_t> ids);
  // Writes id's initial row and slots into `entry` (entry_floats floats).
  void InitialEntry(int64_t id, float* entry) const;
  // Makes room for `new_rows` rows, or RESOURCE_EXHAUSTED when the table is
  // full and may not evict; *to_evict is how many must go to fit them.
  absl::Status ReserveRows(int64_t new_rows, int64_t* to_evict);
  // Stores `id` with its initial entry in `stripe` (held); returns the
  // entry.
  uint32_t Insert(Stripe& stripe, int64_t id, int64_t now);
  // Stores located.to_insert, the first `to_evict` of them each in place of
  // the least recently used row of its stripe that the call does not touch.
  void InsertMarked(Located& located, int64_t to_evict, int64_t now);
  // Assign and Add (`add`).
  absl::Status Write(absl::Span<const int64_t> ids,
                     absl::Span<const float> rows, bool add);
  int64_t Now() const;
  void SweepLoop();

  const DynamicTableOptions options_;
  int64_t entry_floats_ = 0;
  std::vector<float> initial_slot_values_;  // One per slot.
  AdmissionSketch sketch_;
  std::vector<std::unique_ptr<Stripe>> stripes_;

  std::atomic<int64_t> stored_{0};
  std::atomic<int64_t> admitted_{0};
  std::atomic<int64_t> evicted_idle_{0};
  std::atomic<int64_t> evicted_capacity_{0};
  std::atomic<int64_t> lookup_ids_{0};
  std::atomic<int64_t> lookup_hits_{0};
  std::atomic<int64_t> dropped_gradient_rows_{0};
  std::atomic<int64_t> steps_{0};

  Mutex sweep_mu_;
  bool stopping_ ABSL_GUARDED_BY(sweep_mu_) = false;
  std::thread sweeper_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DYNAMIC_TABLE_H_
