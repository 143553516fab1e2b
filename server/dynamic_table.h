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
// - Durability: with a change log, every write and eviction is recorded
//   before it takes effect (TableChange says what is and is not).
//
// - Spread over servers: a table whose spec names an id shard holds only
//   that shard's ids (IdShardOf) and refuses a call naming any other with
//   FAILED_PRECONDITION, so a client that does not know the table is spread
//   gets an error rather than rows from the wrong server.
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
#include "common/table_spec.h"
#include "common/update_spec.h"
#include "server/admission_sketch.h"
#include "server/table_change.h"
#include "server/table_stripe.h"

namespace paramserver {

// Where a dynamic table records its changes before they take effect, in two
// steps as ChangeLog (server/change_log.h): Append is called with the
// stripes the change touches locked, so records of one row come in the
// order the changes took effect; a non-OK status cancels the change. Commit
// is called after the locks are released; its error is the call's. Must be
// thread-safe.
class TableChangeLog {
 public:
  virtual ~TableChangeLog() = default;
  virtual absl::StatusOr<uint64_t> Append(const TableChange& change) = 0;
  virtual absl::Status Commit(uint64_t position) = 0;
};

struct DynamicTableOptions {
  std::string name;  // For messages.
  // Width 1 .. DynamicTable::kMaxWidth. Gradient pushes must use the spec's
  // optimizer kind; their hyper-parameters may vary except those that set
  // the slots' initial values.
  TableSpec spec;
  size_t admission_counters = size_t{1} << 20;  // Per sketch row.
  // How often a background thread calls EvictIdle; 0: no thread until
  // StartSweeper.
  int64_t sweep_interval_micros = 0;
  // A power of two, 1 .. kMaxStripes. Calls whose ids fall in different
  // stripes run in parallel; capacity eviction picks its victim within one.
  int stripes = 32;
  // Microseconds since some epoch; tests give a fake clock.
  std::function<int64_t()> now_micros;
  // Null: nothing is recorded. Must outlive the table.
  TableChangeLog* change_log = nullptr;
};

class DynamicTable {
 public:
  static constexpr int64_t kMaxWidth = int64_t{1} << 20;
  // A call may hold every stripe's lock and then the log's: ThreadSanitizer
  // tracks at most 64 locks held by one thread, so 32 leaves room.
  static constexpr int kMaxStripes = 32;

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

  // The rows of `ids` as Lookup would return them (stored, or initial),
  // changing nothing: no sightings counted, no row stored, no last use
  // moved, no counter. For inspection (psctl rows) and tests.
  absl::Status Peek(absl::Span<const int64_t> ids, absl::Span<float> out) const;

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

  // Records the last uses that only lookups moved (with a change log), then
  // evicts every row idle for longer than the TTL (nothing without one),
  // then, while more rows than the capacity are stored (possible only when
  // an insert found nothing in its stripe it could evict), the least
  // recently used rows of each stripe in turn. Returns how many rows went.
  // A failed Append evicts nothing more and is returned.
  absl::StatusOr<int64_t> EvictIdle();

  // Starts the background thread that calls EvictIdle every
  // `interval_micros` (once; a no-op when it runs or for interval <= 0).
  // The destructor stops it.
  void StartSweeper(int64_t interval_micros);

  // Applies a recorded change (log replay, checkpoint restore): stores the
  // written entries with their last use, removes the evicted ids that are
  // stored, and raises the step count. Capacity and admission do not apply:
  // the record says what the table held. INVALID_ARGUMENT (nothing applied)
  // when the entries do not fit the ids.
  absl::Status Replay(const TableChange& change);

  // Records every stored row in the change log (with its last use), one
  // stripe at a time and under that stripe's lock, so that a change to a
  // row is recorded before or after its dump, as it took effect: for a
  // checkpoint, which lets the log before it go. Returns the last record's
  // position (0: nothing recorded); FAILED_PRECONDITION without a log.
  absl::StatusOr<uint64_t> LogRows();

  // Calls `visit(id, last_use_micros, entry)` for every stored row, one
  // stripe at a time (each stripe's rows as of one moment), for a
  // checkpoint. `visit` must not call the table.
  void ForEachRow(
      const std::function<void(int64_t, int64_t, absl::Span<const float>)>&
          visit) const;

  using Stats = TableCounters;
  Stats GetStats() const;

  int64_t width() const { return options_.spec.width; }
  // Floats per stored row: the row, then one row per slot.
  int64_t entry_floats() const { return entry_floats_; }
  const DynamicTableOptions& options() const { return options_; }

 private:
  class StripeLocks;
  struct Located;
  struct InsertPlan;

  explicit DynamicTable(DynamicTableOptions options);

  TableStripe& StripeOf(int64_t id) const;
  uint64_t StripeMask(absl::Span<const int64_t> ids) const;
  // Looks every id up; the stripes of `ids` must be held.
  Located Locate(absl::Span<const int64_t> ids) const;
  // Writes id's initial row and slots into `entry` (entry_floats floats).
  void InitialEntry(int64_t id, float* entry) const;
  // Plans storing `insert_ids` (distinct, not stored): reserves their place
  // against the capacity and picks the rows to evict for the ones that do
  // not fit, never one of the call's ids. RESOURCE_EXHAUSTED when the table
  // is full and may not evict.
  // `writes`: the call writes these rows (Assign, Add), so an id that finds
  // nothing to evict is still stored; a lookup leaves it out.
  absl::StatusOr<InsertPlan> PlanInserts(const Located& located,
                                         std::vector<int64_t> insert_ids,
                                         bool writes);
  // A plan not carried out: gives its reservation back.
  void CancelPlan(const InsertPlan& plan);
  // Evicts the plan's victims; the caller then stores plan.insert_ids.
  void EvictPlanned(const InsertPlan& plan);
  // Appends `change` to the change log (position 0 without one).
  absl::StatusOr<uint64_t> Log(const TableChange& change);
  absl::Status Commit(uint64_t position);
  // Assign and Add (`add`), logged.
  absl::Status Write(absl::Span<const int64_t> ids,
                     absl::Span<const float> rows, bool add);
  // Records the last use of rows that only lookups moved since a record
  // last held it (EvictIdle's first pass), so restarts keep recency.
  absl::Status LogTouches(uint64_t* position);
  // EvictIdle's two passes over the stripes: rows idle past the TTL, then
  // rows over the capacity.
  absl::StatusOr<int64_t> EvictFromEachStripe(bool idle, uint64_t* position);
  int64_t Now() const;
  // FAILED_PRECONDITION naming the first id another id shard holds.
  absl::Status CheckIdsHeld(absl::Span<const int64_t> ids) const;
  void SweepLoop(int64_t interval_micros);

  const DynamicTableOptions options_;
  int64_t entry_floats_ = 0;
  std::vector<float> initial_slot_values_;  // One per slot.
  AdmissionSketch sketch_;
  std::vector<std::unique_ptr<TableStripe>> stripes_;

  std::atomic<int64_t> stored_{0};
  std::atomic<int64_t> admitted_{0};
  std::atomic<int64_t> evicted_idle_{0};
  std::atomic<int64_t> evicted_capacity_{0};
  std::atomic<int64_t> lookup_ids_{0};
  std::atomic<int64_t> lookup_hits_{0};
  std::atomic<int64_t> dropped_gradient_rows_{0};
  std::atomic<int64_t> steps_{0};
  // LogTouches walks rows used since this time.
  static constexpr int64_t kTouchMarginMicros = 1'000'000;
  std::atomic<int64_t> touches_logged_since_{0};

  Mutex sweep_mu_;
  bool stopping_ ABSL_GUARDED_BY(sweep_mu_) = false;
  std::thread sweeper_ ABSL_GUARDED_BY(sweep_mu_);
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DYNAMIC_TABLE_H_
