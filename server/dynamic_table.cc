#include "server/dynamic_table.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/mix64.h"
#include "server/initializer.h"
#include "server/optimizer.h"
#include "server/sparse_optimizer.h"

namespace paramserver {
namespace {

// A lookup with at least this many new ids draws their initial entries
// before locking (Lookup).
constexpr size_t kDrawUnlockedAtLeast = 16;

// LogRows writes a stripe's rows in records of at most this many rows and
// about this many bytes of entries (at least one row).
constexpr size_t kRowsPerDumpRecord = 4096;
constexpr size_t kBytesPerDumpRecord = size_t{64} << 20;

// Rows and slots are kept in chunks of about this many bytes.
constexpr size_t kChunkBytes = size_t{256} << 10;

// The seed of one id's initial row: a pure function of (table seed, id).
int64_t RowSeed(int64_t table_seed, int64_t id) {
  return static_cast<int64_t>(
      Mix64(Mix64(static_cast<uint64_t>(table_seed)) ^
            Mix64(static_cast<uint64_t>(id) + 0x9e3779b97f4a7c15ULL)));
}

const char* OptimizerKindName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd:
      return "SGD";
    case OptimizerKind::kMomentum:
      return "Momentum";
    case OptimizerKind::kAdagrad:
      return "Adagrad";
    case OptimizerKind::kAdam:
      return "Adam";
    case OptimizerKind::kFtrl:
      return "FTRL";
    case OptimizerKind::kLazyAdam:
      return "LazyAdam";
  }
  return "an unknown optimizer";
}

// The distinct values of `ids` in order of first appearance, and for each
// id its place among them.
struct DistinctIds {
  explicit DistinctIds(absl::Span<const int64_t> ids) {
    place.reserve(ids.size());
    of.reserve(ids.size());
    for (const int64_t id : ids) {
      const auto [it, added] = place.try_emplace(id, values.size());
      if (added) values.push_back(id);
      of.push_back(it->second);
    }
  }
  std::vector<int64_t> values;
  absl::flat_hash_map<int64_t, size_t> place;
  std::vector<size_t> of;  // Per id of the call.
};

}  // namespace

// Holds the stripes of a mask, locked in ascending order (so two calls never
// wait for each other in a cycle), until destroyed.
class DynamicTable::StripeLocks {
 public:
  StripeLocks(const DynamicTable* table,
              uint64_t mask) ABSL_NO_THREAD_SAFETY_ANALYSIS : table_(table),
                                                              mask_(mask) {
    for (int i = 0; i < 64; ++i) {
      if (mask_ & (uint64_t{1} << i)) table_->stripes_[i]->mu.Lock();
    }
  }
  ~StripeLocks() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (int i = 63; i >= 0; --i) {
      if (mask_ & (uint64_t{1} << i)) table_->stripes_[i]->mu.Unlock();
    }
  }
  StripeLocks(const StripeLocks&) = delete;
  StripeLocks& operator=(const StripeLocks&) = delete;

 private:
  const DynamicTable* const table_;
  const uint64_t mask_;
};

struct DynamicTable::Located {
  std::vector<uint32_t> entry;  // Per id of the call; kNoEntry: not stored.
  // Every distinct id of the call: eviction never picks one of them.
  absl::flat_hash_set<int64_t> call_ids;
};

struct DynamicTable::InsertPlan {
  std::vector<int64_t> insert_ids;
  std::vector<std::pair<TableStripe*, uint32_t>> victims;
  std::vector<int64_t> victim_ids;
  int64_t reserved = 0;  // Added to stored_ by the reservation.
  int64_t overflow = 0;  // Inserts that found nothing to evict.
};

absl::StatusOr<std::unique_ptr<DynamicTable>> DynamicTable::Create(
    DynamicTableOptions options) {
  const std::string& name = options.name;
  if (options.spec.width < 1 || options.spec.width > kMaxWidth) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", name, "': width must be in [1, ",
                     kMaxWidth, "], got ", options.spec.width));
  }
  if (!options.spec.initializer.seed.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", name,
        "': its initializer needs a seed, so that every shard and restart "
        "gives a new id the same row"));
  }
  const absl::Status initializer_status = ValidateInitializer(
      options.spec.initializer, DType::kFloat, {options.spec.width}, name);
  if (!initializer_status.ok()) return initializer_status;
  if (options.spec.optimizer == OptimizerKind::kAdam) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", name,
        "': Adam moves every row on every step; use LazyAdam, which updates "
        "only the rows a gradient touches"));
  }
  OptimizerSpec slots_of;
  slots_of.kind = options.spec.optimizer;
  slots_of.initial_accumulator_value = options.spec.initial_accumulator_value;
  const absl::Status optimizer_status = ValidateOptimizer(slots_of);
  if (!optimizer_status.ok()) return optimizer_status;
  if (options.spec.admit_after < 1 ||
      options.spec.admit_after > AdmissionSketch::kMaxCount) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", name, "': admit_after must be in [1, ",
        AdmissionSketch::kMaxCount, "], got ", options.spec.admit_after));
  }
  if (options.spec.capacity < 0 || options.spec.ttl_micros < 0 ||
      options.sweep_interval_micros < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", name,
                     "': capacity, TTL and sweep interval must not be "
                     "negative"));
  }
  if (options.spec.id_shard_count < 1 ||
      options.spec.id_shard_count > kMaxIdShards ||
      options.spec.id_shard_index < 0 ||
      options.spec.id_shard_index >= options.spec.id_shard_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", name, "': id shard ", options.spec.id_shard_index,
        " of ", options.spec.id_shard_count,
        " is not a shard: the count must be in [1, ", kMaxIdShards,
        "] and the index in [0, count)"));
  }
  const int stripes = options.stripes;
  if (stripes < 1 || stripes > kMaxStripes || (stripes & (stripes - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", name, "': stripes must be a power of two in [1, ",
        kMaxStripes, "], got ", stripes));
  }
  if (!options.now_micros) {
    options.now_micros = [] { return absl::GetCurrentTimeNanos() / 1000; };
  }
  std::unique_ptr<DynamicTable> table(new DynamicTable(std::move(options)));
  for (const SlotSpec& slot : SlotsFor(slots_of)) {
    table->initial_slot_values_.push_back(
        static_cast<float>(slot.initial_value));
  }
  table->entry_floats_ =
      table->options_.spec.width *
      (1 + static_cast<int64_t>(table->initial_slot_values_.size()));
  const size_t entry_bytes = table->entry_floats_ * sizeof(float);
  size_t chunk_entries = std::max<size_t>(1, kChunkBytes / entry_bytes);
  if (table->options_.spec.capacity > 0) {
    // A small table's stripes hold few rows: no chunk larger than a
    // stripe's share of the capacity.
    const size_t share = static_cast<size_t>(
        (table->options_.spec.capacity + stripes - 1) / stripes);
    chunk_entries = std::min(chunk_entries, share);
  }
  for (int i = 0; i < stripes; ++i) {
    table->stripes_.push_back(
        std::make_unique<TableStripe>(chunk_entries, table->entry_floats_));
  }
  if (table->options_.sweep_interval_micros > 0) {
    table->StartSweeper(table->options_.sweep_interval_micros);
  }
  return table;
}

void DynamicTable::StartSweeper(int64_t interval_micros) {
  MutexLock lock(&sweep_mu_);
  if (sweeper_.joinable() || interval_micros <= 0) return;
  sweeper_ =
      std::thread([this, interval_micros] { SweepLoop(interval_micros); });
}

DynamicTable::DynamicTable(DynamicTableOptions options)
    : options_(std::move(options)),
      // Without an admission threshold the sketch is never read: keep it at
      // its smallest.
      sketch_(options_.spec.admit_after > 1 ? options_.admission_counters : 0) {
}

DynamicTable::~DynamicTable() {
  std::thread sweeper;
  {
    MutexLock lock(&sweep_mu_);
    stopping_ = true;
    sweeper = std::move(sweeper_);
  }
  sweep_mu_.NotifyAll();
  if (sweeper.joinable()) sweeper.join();
}

void DynamicTable::SweepLoop(int64_t interval_micros) {
  const auto interval = std::chrono::microseconds(interval_micros);
  while (true) {
    {
      MutexLock lock(&sweep_mu_);
      if (sweep_mu_.AwaitFor([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                 sweep_mu_) { return stopping_; },
                             interval)) {
        return;
      }
    }
    // Nothing to report to: a failed sweep leaves the rows, and the next
    // sweep tries again.
    EvictIdle().IgnoreError();
  }
}

int64_t DynamicTable::Now() const { return options_.now_micros(); }

absl::Status DynamicTable::CheckIdsHeld(absl::Span<const int64_t> ids) const {
  const int32_t count = options_.spec.id_shard_count;
  if (count == 1) return absl::OkStatus();
  const int32_t index = options_.spec.id_shard_index;
  for (const int64_t id : ids) {
    const int32_t shard = IdShardOf(id, count);
    if (shard != index) {
      return absl::FailedPreconditionError(absl::StrCat(
          "Id ", id, " of dynamic table '", options_.name,
          "' belongs to id shard ", shard, " of ", count,
          ", and this server holds id shard ", index,
          ": a table spread over servers is read and written through a "
          "client that lists all of them, in the order of their "
          "--shard_index (ShardedClient)"));
    }
  }
  return absl::OkStatus();
}

TableStripe& DynamicTable::StripeOf(int64_t id) const {
  return *stripes_[Mix64(static_cast<uint64_t>(id)) & (stripes_.size() - 1)];
}

uint64_t DynamicTable::StripeMask(absl::Span<const int64_t> ids) const {
  const uint64_t all = stripes_.size() == 64
                           ? ~uint64_t{0}
                           : (uint64_t{1} << stripes_.size()) - 1;
  uint64_t mask = 0;
  for (const int64_t id : ids) {
    mask |= uint64_t{1} << (Mix64(static_cast<uint64_t>(id)) &
                            (stripes_.size() - 1));
    if (mask == all) break;
  }
  return mask;
}

DynamicTable::Located DynamicTable::Locate(
    absl::Span<const int64_t> ids) const {
  Located located;
  located.entry.resize(ids.size(), kNoEntry);
  located.call_ids.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    located.call_ids.insert(ids[i]);
    TableStripe& stripe = StripeOf(ids[i]);
    stripe.mu.AssertHeld();
    located.entry[i] = stripe.Find(ids[i]);
  }
  return located;
}

void DynamicTable::InitialEntry(int64_t id, float* entry) const {
  InitializerSpec spec = options_.spec.initializer;
  spec.seed = RowSeed(*options_.spec.initializer.seed, id);
  const int64_t width = options_.spec.width;
  RunInitializer(
      spec, DType::kFloat, {width},
      absl::Span<char>(reinterpret_cast<char*>(entry), width * sizeof(float)));
  for (size_t s = 0; s < initial_slot_values_.size(); ++s) {
    std::fill_n(entry + (s + 1) * width, width, initial_slot_values_[s]);
  }
}

absl::StatusOr<DynamicTable::InsertPlan> DynamicTable::PlanInserts(
    const Located& located, std::vector<int64_t> insert_ids, bool writes) {
  InsertPlan plan;
  plan.insert_ids = std::move(insert_ids);
  const int64_t new_rows = static_cast<int64_t>(plan.insert_ids.size());
  if (new_rows == 0) return plan;
  int64_t to_evict = 0;
  if (options_.spec.capacity == 0) {
    stored_.fetch_add(new_rows);
    plan.reserved = new_rows;
  } else {
    int64_t stored = stored_.load();
    while (true) {
      const int64_t room =
          std::max<int64_t>(0, options_.spec.capacity - stored);
      const int64_t take = std::min(new_rows, room);
      if (take < new_rows && !options_.spec.evict_when_full) {
        return absl::ResourceExhaustedError(
            absl::StrCat("Dynamic table '", options_.name,
                         "' is full: it holds at most ", options_.spec.capacity,
                         " rows, ", stored, " are stored and this call adds ",
                         new_rows, " (eviction when full is off)"));
      }
      if (stored_.compare_exchange_weak(stored, stored + take)) {
        plan.reserved = take;
        to_evict = new_rows - take;
        break;
      }
    }
  }
  // Each of the first `to_evict` inserts takes the place of the least
  // recently used row of its stripe that the call does not touch (walking
  // from the tail past the call's ids and the victims already picked).
  absl::flat_hash_map<TableStripe*, uint32_t> cursor;
  std::vector<int64_t> kept;  // The inserts that stay in the plan.
  kept.reserve(plan.insert_ids.size());
  for (int64_t k = 0; k < to_evict; ++k) {
    TableStripe& stripe = StripeOf(plan.insert_ids[k]);
    stripe.mu.AssertHeld();
    const auto [it, first] = cursor.try_emplace(&stripe, stripe.tail);
    uint32_t victim = it->second;
    while (victim != kNoEntry &&
           located.call_ids.contains(stripe.ids[victim])) {
      victim = stripe.prev[victim];
    }
    if (victim == kNoEntry) {
      it->second = kNoEntry;
      // Nothing here may go. A lookup does not admit the id (it gets its
      // initial row); a write stores it, and the table runs over its
      // capacity, by at most this call's new ids, until EvictIdle trims it.
      if (writes) {
        ++plan.overflow;
        kept.push_back(plan.insert_ids[k]);
      }
      continue;
    }
    plan.victims.emplace_back(&stripe, victim);
    plan.victim_ids.push_back(stripe.ids[victim]);
    it->second = stripe.prev[victim];
    kept.push_back(plan.insert_ids[k]);
  }
  kept.insert(kept.end(), plan.insert_ids.begin() + to_evict,
              plan.insert_ids.end());
  plan.insert_ids = std::move(kept);
  return plan;
}

void DynamicTable::CancelPlan(const InsertPlan& plan) {
  stored_.fetch_sub(plan.reserved);
}

void DynamicTable::EvictPlanned(const InsertPlan& plan) {
  for (const auto& [stripe, victim] : plan.victims) {
    stripe->mu.AssertHeld();
    stripe->Remove(victim);
  }
  evicted_capacity_.fetch_add(static_cast<int64_t>(plan.victims.size()),
                              std::memory_order_relaxed);
  stored_.fetch_add(plan.overflow);
  admitted_.fetch_add(static_cast<int64_t>(plan.insert_ids.size()),
                      std::memory_order_relaxed);
}

absl::StatusOr<uint64_t> DynamicTable::Log(const TableChange& change) {
  if (options_.change_log == nullptr) return uint64_t{0};
  return options_.change_log->Append(change);
}

absl::Status DynamicTable::Commit(uint64_t position) {
  if (options_.change_log == nullptr || position == 0) {
    return absl::OkStatus();
  }
  return options_.change_log->Commit(position);
}

absl::Status DynamicTable::Lookup(absl::Span<const int64_t> ids,
                                  absl::Span<float> out) {
  const int64_t width = options_.spec.width;
  if (out.size() != ids.size() * static_cast<size_t>(width)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", options_.name, "': a lookup of ",
                     ids.size(), " ids needs room for ", ids.size() * width,
                     " floats, got ", out.size()));
  }
  if (absl::Status held = CheckIdsHeld(ids); !held.ok()) return held;
  if (ids.empty()) return absl::OkStatus();
  // Initial entries drawn before the stripes were locked: drawing them (a
  // normal per element, say) is most of what storing a new id costs, and
  // under the locks it would hold up every call on those stripes.
  absl::flat_hash_map<int64_t, size_t> drawn_at;
  std::vector<float> drawn;
  auto initial_entry = [&](int64_t id, float* entry) {
    const auto it = drawn_at.find(id);
    if (it == drawn_at.end()) return InitialEntry(id, entry);
    std::memcpy(entry, drawn.data() + it->second,
                entry_floats_ * sizeof(float));
  };
  std::vector<int64_t> to_draw;
  bool looked = false;
  uint64_t position = 0;
  while (true) {
    if (!to_draw.empty()) {
      drawn.resize(to_draw.size() * entry_floats_);
      for (size_t d = 0; d < to_draw.size(); ++d) {
        drawn_at.emplace(to_draw[d], d * entry_floats_);
        InitialEntry(to_draw[d], drawn.data() + d * entry_floats_);
      }
      to_draw.clear();
    }
    StripeLocks locks(this, StripeMask(ids));
    const Located located = Locate(ids);
    if (!looked) {
      // Many new ids: unlock, draw their entries, and look again (what
      // other calls stored meanwhile is then found stored).
      looked = true;
      absl::flat_hash_set<int64_t> missing;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (located.entry[i] == kNoEntry && missing.insert(ids[i]).second) {
          to_draw.push_back(ids[i]);
        }
      }
      if (to_draw.size() >= kDrawUnlockedAtLeast) continue;
      to_draw.clear();
    }
    const int64_t now = Now();

    // Which missing ids this call admits, decided before anything changes:
    // an id's sightings so far plus its sightings in this call.
    absl::flat_hash_map<int64_t, uint32_t> sightings;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (located.entry[i] == kNoEntry) ++sightings[ids[i]];
    }
    std::vector<int64_t> admit;
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto it = sightings.find(ids[i]);
      if (it == sightings.end()) continue;  // Stored, or decided already.
      const uint32_t seen =
          (options_.spec.admit_after > 1 ? sketch_.Estimate(ids[i]) : 0) +
          it->second;
      if (seen >= options_.spec.admit_after) admit.push_back(ids[i]);
      sightings.erase(it);
    }
    absl::StatusOr<InsertPlan> plan =
        PlanInserts(located, std::move(admit), /*writes=*/false);
    if (!plan.ok()) return plan.status();
    if (!plan->victim_ids.empty()) {
      TableChange change;
      change.time_micros = now;
      change.evicted_ids = plan->victim_ids;
      absl::StatusOr<uint64_t> logged = Log(change);
      if (!logged.ok()) {
        CancelPlan(*plan);
        return logged.status();
      }
      position = *logged;
    }

    if (options_.spec.admit_after > 1) {
      for (size_t i = 0; i < ids.size(); ++i) {
        if (located.entry[i] == kNoEntry) sketch_.Add(ids[i]);
      }
    }
    EvictPlanned(*plan);
    absl::flat_hash_map<int64_t, uint32_t> inserted;
    for (const int64_t id : plan->insert_ids) {
      TableStripe& stripe = StripeOf(id);
      stripe.mu.AssertHeld();
      const uint32_t e = stripe.Allocate(id, now);
      initial_entry(id, stripe.Entry(e));
      inserted.emplace(id, e);
    }
    int64_t hits = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      float* row_out = out.data() + i * width;
      uint32_t e = located.entry[i];
      if (e != kNoEntry) {
        ++hits;
      } else if (const auto it = inserted.find(ids[i]); it != inserted.end()) {
        e = it->second;
      }
      if (e == kNoEntry) {
        // Not admitted: its initial row, which it will be stored with.
        if (const auto it = drawn_at.find(ids[i]); it != drawn_at.end()) {
          std::memcpy(row_out, drawn.data() + it->second,
                      width * sizeof(float));
        } else {
          InitializerSpec spec = options_.spec.initializer;
          spec.seed = RowSeed(*options_.spec.initializer.seed, ids[i]);
          RunInitializer(spec, DType::kFloat, {width},
                         absl::Span<char>(reinterpret_cast<char*>(row_out),
                                          width * sizeof(float)));
        }
        continue;
      }
      TableStripe& stripe = StripeOf(ids[i]);
      stripe.mu.AssertHeld();
      std::memcpy(row_out, stripe.Entry(e), width * sizeof(float));
      stripe.TouchByLookup(e, now);
    }
    lookup_ids_.fetch_add(static_cast<int64_t>(ids.size()),
                          std::memory_order_relaxed);
    lookup_hits_.fetch_add(hits, std::memory_order_relaxed);
    break;
  }
  return Commit(position);
}

absl::Status DynamicTable::Peek(absl::Span<const int64_t> ids,
                                absl::Span<float> out) const {
  const size_t width = static_cast<size_t>(options_.spec.width);
  if (out.size() != ids.size() * width) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", options_.name, "': a peek at ",
                     ids.size(), " ids needs room for ", ids.size() * width,
                     " floats, got ", out.size()));
  }
  if (absl::Status held = CheckIdsHeld(ids); !held.ok()) return held;
  if (ids.empty()) return absl::OkStatus();
  std::vector<float> initial(entry_floats_);
  StripeLocks locks(this, StripeMask(ids));
  for (size_t i = 0; i < ids.size(); ++i) {
    TableStripe& stripe = StripeOf(ids[i]);
    stripe.mu.AssertHeld();
    const uint32_t e = stripe.Find(ids[i]);
    const float* row = initial.data();
    if (e == kNoEntry) {
      InitialEntry(ids[i], initial.data());
    } else {
      row = stripe.Entry(e);
    }
    std::memcpy(out.data() + i * width, row, width * sizeof(float));
  }
  return absl::OkStatus();
}

absl::Status DynamicTable::Assign(absl::Span<const int64_t> ids,
                                  absl::Span<const float> rows) {
  return Write(ids, rows, /*add=*/false);
}

absl::Status DynamicTable::Add(absl::Span<const int64_t> ids,
                               absl::Span<const float> rows) {
  return Write(ids, rows, /*add=*/true);
}

absl::Status DynamicTable::Write(absl::Span<const int64_t> ids,
                                 absl::Span<const float> rows, bool add) {
  const int64_t width = options_.spec.width;
  if (rows.size() != ids.size() * static_cast<size_t>(width)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", options_.name, "': ", ids.size(),
                     " ids need ", ids.size(), " rows of ", width, " floats (",
                     ids.size() * width, "), got ", rows.size(), " floats"));
  }
  if (absl::Status held = CheckIdsHeld(ids); !held.ok()) return held;
  if (ids.empty()) return absl::OkStatus();
  const DistinctIds distinct(ids);
  uint64_t position = 0;
  {
    StripeLocks locks(this, StripeMask(ids));
    const int64_t now = Now();
    const Located located = Locate(ids);
    // The new entries, made aside so that nothing changes until logged.
    std::vector<float> entries(distinct.values.size() * entry_floats_);
    std::vector<uint32_t> stored(distinct.values.size(), kNoEntry);
    std::vector<int64_t> missing;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (located.entry[i] != kNoEntry)
        stored[distinct.of[i]] = located.entry[i];
    }
    for (size_t d = 0; d < distinct.values.size(); ++d) {
      float* entry = entries.data() + d * entry_floats_;
      const int64_t id = distinct.values[d];
      if (stored[d] == kNoEntry) {
        InitialEntry(id, entry);
        missing.push_back(id);
        continue;
      }
      TableStripe& stripe = StripeOf(id);
      stripe.mu.AssertHeld();
      std::memcpy(entry, stripe.Entry(stored[d]),
                  entry_floats_ * sizeof(float));
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      float* row = entries.data() + distinct.of[i] * entry_floats_;
      const float* value = rows.data() + i * width;
      if (add) {
        for (int64_t k = 0; k < width; ++k) row[k] += value[k];
      } else {
        std::memcpy(row, value, width * sizeof(float));
      }
    }
    absl::StatusOr<InsertPlan> plan =
        PlanInserts(located, std::move(missing), /*writes=*/true);
    if (!plan.ok()) return plan.status();
    TableChange change;
    change.time_micros = now;
    change.written_ids = distinct.values;
    change.written_entries = entries;
    change.evicted_ids = plan->victim_ids;
    absl::StatusOr<uint64_t> logged = Log(change);
    if (!logged.ok()) {
      CancelPlan(*plan);
      return logged.status();
    }
    position = *logged;

    EvictPlanned(*plan);
    for (size_t d = 0; d < distinct.values.size(); ++d) {
      const int64_t id = distinct.values[d];
      TableStripe& stripe = StripeOf(id);
      stripe.mu.AssertHeld();
      const uint32_t e =
          stored[d] != kNoEntry ? stored[d] : stripe.Allocate(id, now);
      std::memcpy(stripe.Entry(e), entries.data() + d * entry_floats_,
                  entry_floats_ * sizeof(float));
      stripe.Touch(e, now);
    }
  }
  return Commit(position);
}

absl::Status DynamicTable::ApplyGradient(const OptimizerSpec& optimizer,
                                         absl::Span<const int64_t> ids,
                                         absl::Span<const float> grad) {
  const int64_t width = options_.spec.width;
  if (optimizer.kind != options_.spec.optimizer) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", options_.name, "' keeps the slots of ",
                     OptimizerKindName(options_.spec.optimizer),
                     "; a gradient push must use it, got ",
                     OptimizerKindName(optimizer.kind)));
  }
  const absl::Status valid = ValidateOptimizer(optimizer);
  if (!valid.ok()) return valid;
  const bool has_accumulator = optimizer.kind == OptimizerKind::kAdagrad ||
                               optimizer.kind == OptimizerKind::kFtrl;
  if (has_accumulator &&
      static_cast<float>(optimizer.initial_accumulator_value) !=
          static_cast<float>(options_.spec.initial_accumulator_value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", options_.name,
        "' was made with initial_accumulator_value ",
        options_.spec.initial_accumulator_value, "; a push asked for ",
        optimizer.initial_accumulator_value));
  }
  if (grad.size() != ids.size() * static_cast<size_t>(width)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", options_.name, "': ", ids.size(),
                     " ids need a gradient of ", ids.size() * width,
                     " floats, got ", grad.size()));
  }
  if (absl::Status held = CheckIdsHeld(ids); !held.ok()) return held;
  if (ids.empty()) return absl::OkStatus();
  uint64_t position = 0;
  {
    StripeLocks locks(this, StripeMask(ids));
    const int64_t now = Now();
    const Located located = Locate(ids);

    // The touched entries copied into the arrays the sparse kernels take
    // (the row, then each slot): one local row per distinct stored id, the
    // ids not stored sharing one scratch row whose result is dropped.
    absl::flat_hash_map<int64_t, int64_t> local_of;
    std::vector<int64_t> stored_ids;
    std::vector<uint32_t> entry_of_local;
    std::vector<int64_t> local_ids(ids.size());
    int64_t dropped = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (located.entry[i] == kNoEntry) {
        local_ids[i] = -1;  // The scratch row, numbered below.
        ++dropped;
        continue;
      }
      const auto [it, added] =
          local_of.try_emplace(ids[i], static_cast<int64_t>(stored_ids.size()));
      if (added) {
        stored_ids.push_back(ids[i]);
        entry_of_local.push_back(located.entry[i]);
      }
      local_ids[i] = it->second;
    }
    const int64_t stored_rows = static_cast<int64_t>(stored_ids.size());
    const int64_t local_rows = stored_rows + (dropped > 0 ? 1 : 0);
    for (int64_t& local : local_ids) {
      if (local < 0) local = stored_rows;
    }
    const size_t slots = initial_slot_values_.size();
    std::vector<std::vector<float>> arrays(1 + slots);
    for (size_t a = 0; a <= slots; ++a) {
      arrays[a].resize(local_rows * width,
                       a == 0 ? 0.0f : initial_slot_values_[a - 1]);
    }
    for (int64_t local = 0; local < stored_rows; ++local) {
      TableStripe& stripe = StripeOf(stored_ids[local]);
      stripe.mu.AssertHeld();
      const float* entry = stripe.Entry(entry_of_local[local]);
      for (size_t a = 0; a <= slots; ++a) {
        std::memcpy(arrays[a].data() + local * width, entry + a * width,
                    width * sizeof(float));
      }
    }
    std::vector<float*> slot_arrays;
    for (size_t a = 1; a <= slots; ++a) {
      slot_arrays.push_back(arrays[a].data());
    }
    // Counted once the step is logged; concurrent steps on other stripes
    // may share a number, as asynchronous workers' steps do in TensorFlow.
    const int64_t step = steps_.load() + 1;
    ApplySparseOptimizer<float>(optimizer, step, local_rows, width, local_ids,
                                grad.data(), arrays[0].data(), slot_arrays);
    std::vector<float> entries(stored_rows * entry_floats_);
    for (int64_t local = 0; local < stored_rows; ++local) {
      for (size_t a = 0; a <= slots; ++a) {
        std::memcpy(entries.data() + local * entry_floats_ + a * width,
                    arrays[a].data() + local * width, width * sizeof(float));
      }
    }
    if (stored_rows > 0) {
      TableChange change;
      change.time_micros = now;
      change.steps = step;
      change.gradient = true;
      change.written_ids = stored_ids;
      change.written_entries = entries;
      absl::StatusOr<uint64_t> logged = Log(change);
      if (!logged.ok()) return logged.status();
      position = *logged;
    }
    for (int64_t local = 0; local < stored_rows; ++local) {
      TableStripe& stripe = StripeOf(stored_ids[local]);
      stripe.mu.AssertHeld();
      std::memcpy(stripe.Entry(entry_of_local[local]),
                  entries.data() + local * entry_floats_,
                  entry_floats_ * sizeof(float));
      stripe.Touch(entry_of_local[local], now);
    }
    if (stored_rows > 0) {
      int64_t steps = steps_.load();
      while (steps < step && !steps_.compare_exchange_weak(steps, step)) {
      }
    }
    dropped_gradient_rows_.fetch_add(dropped, std::memory_order_relaxed);
  }
  return Commit(position);
}

absl::StatusOr<int64_t> DynamicTable::EvictFromEachStripe(bool idle,
                                                          uint64_t* position) {
  int64_t evicted = 0;
  const int64_t now = Now();
  for (const auto& stripe_ptr : stripes_) {
    TableStripe& stripe = *stripe_ptr;
    MutexLock lock(&stripe.mu);
    std::vector<uint32_t> victims;
    std::vector<int64_t> victim_ids;
    const int64_t over = stored_.load() - options_.spec.capacity;
    for (uint32_t e = stripe.tail; e != kNoEntry; e = stripe.prev[e]) {
      if (idle ? now - stripe.last_use[e] <= options_.spec.ttl_micros
               : static_cast<int64_t>(victims.size()) >= over) {
        break;
      }
      victims.push_back(e);
      victim_ids.push_back(stripe.ids[e]);
    }
    if (victims.empty()) continue;
    TableChange change;
    change.time_micros = now;
    change.evicted_ids = victim_ids;
    absl::StatusOr<uint64_t> logged = Log(change);
    if (!logged.ok()) return logged.status();
    *position = std::max(*position, *logged);
    for (const uint32_t e : victims) stripe.Remove(e);
    const int64_t n = static_cast<int64_t>(victims.size());
    stored_.fetch_sub(n);
    (idle ? evicted_idle_ : evicted_capacity_)
        .fetch_add(n, std::memory_order_relaxed);
    evicted += n;
  }
  return evicted;
}

absl::Status DynamicTable::LogTouches(uint64_t* position) {
  if (options_.change_log == nullptr) return absl::OkStatus();
  const int64_t now = Now();
  // Rows used since the last pass began (less a margin for lookups that
  // read the clock before it and touched after) are at the head of each
  // list; those whose use no record holds are logged.
  const int64_t since =
      touches_logged_since_.exchange(now - kTouchMarginMicros);
  for (const auto& stripe_ptr : stripes_) {
    TableStripe& stripe = *stripe_ptr;
    MutexLock lock(&stripe.mu);
    std::vector<uint32_t> entries;
    for (uint32_t e = stripe.head; e != kNoEntry && stripe.last_use[e] >= since;
         e = stripe.next[e]) {
      if (stripe.use_logged[e] == 0) entries.push_back(e);
    }
    for (size_t begin = 0; begin < entries.size();
         begin += kRowsPerDumpRecord) {
      const size_t end = std::min(entries.size(), begin + kRowsPerDumpRecord);
      std::vector<int64_t> ids, last_use;
      for (size_t k = begin; k < end; ++k) {
        ids.push_back(stripe.ids[entries[k]]);
        last_use.push_back(stripe.last_use[entries[k]]);
      }
      TableChange change;
      change.time_micros = now;
      change.touched_ids = ids;
      change.touched_last_use = last_use;
      change.gradient = true;  // A checkpoint's dump holds last uses too.
      absl::StatusOr<uint64_t> logged = Log(change);
      if (!logged.ok()) {
        // Not all were logged: the next pass looks again from here.
        touches_logged_since_.store(since);
        return logged.status();
      }
      *position = std::max(*position, *logged);
      for (size_t k = begin; k < end; ++k) stripe.use_logged[entries[k]] = 1;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> DynamicTable::EvictIdle() {
  uint64_t position = 0;
  int64_t evicted = 0;
  if (absl::Status touches = LogTouches(&position); !touches.ok()) {
    Commit(position).IgnoreError();
    return touches;
  }
  // Evictions logged before a failure took effect: they are committed
  // before the failure is returned.
  if (options_.spec.ttl_micros > 0) {
    absl::StatusOr<int64_t> idle = EvictFromEachStripe(true, &position);
    if (!idle.ok()) {
      Commit(position).IgnoreError();
      return idle.status();
    }
    evicted += *idle;
  }
  if (options_.spec.capacity > 0 && stored_.load() > options_.spec.capacity) {
    absl::StatusOr<int64_t> over = EvictFromEachStripe(false, &position);
    if (!over.ok()) {
      Commit(position).IgnoreError();
      return over.status();
    }
    evicted += *over;
  }
  const absl::Status committed = Commit(position);
  if (!committed.ok()) return committed;
  return evicted;
}

absl::Status DynamicTable::Replay(const TableChange& change) {
  if (change.written_entries.size() !=
      change.written_ids.size() * static_cast<size_t>(entry_floats_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", options_.name, "': a recorded change writes ",
        change.written_ids.size(), " rows of ", entry_floats_,
        " floats but holds ", change.written_entries.size(), " floats"));
  }
  if (!change.written_last_use.empty() &&
      change.written_last_use.size() != change.written_ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", options_.name, "': a recorded change writes ",
        change.written_ids.size(), " rows but gives ",
        change.written_last_use.size(), " last-use times"));
  }
  if (change.touched_last_use.size() != change.touched_ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", options_.name, "': a recorded change touches ",
        change.touched_ids.size(), " rows but gives ",
        change.touched_last_use.size(), " last-use times"));
  }
  std::vector<int64_t> all(change.written_ids.begin(),
                           change.written_ids.end());
  all.insert(all.end(), change.evicted_ids.begin(), change.evicted_ids.end());
  all.insert(all.end(), change.touched_ids.begin(), change.touched_ids.end());
  StripeLocks locks(this, StripeMask(all));
  for (const int64_t id : change.evicted_ids) {
    TableStripe& stripe = StripeOf(id);
    stripe.mu.AssertHeld();
    const uint32_t e = stripe.Find(id);
    if (e == kNoEntry) continue;
    stripe.Remove(e);
    stored_.fetch_sub(1);
  }
  for (size_t d = 0; d < change.written_ids.size(); ++d) {
    const int64_t id = change.written_ids[d];
    TableStripe& stripe = StripeOf(id);
    stripe.mu.AssertHeld();
    const int64_t last_use = change.written_last_use.empty()
                                 ? change.time_micros
                                 : change.written_last_use[d];
    uint32_t e = stripe.Find(id);
    if (e == kNoEntry) {
      e = stripe.Allocate(id, last_use);
      stored_.fetch_add(1);
    }
    std::memcpy(stripe.Entry(e),
                change.written_entries.data() + d * entry_floats_,
                entry_floats_ * sizeof(float));
    stripe.Touch(e, last_use);
  }
  for (size_t t = 0; t < change.touched_ids.size(); ++t) {
    TableStripe& stripe = StripeOf(change.touched_ids[t]);
    stripe.mu.AssertHeld();
    const uint32_t e = stripe.Find(change.touched_ids[t]);
    // A row evicted since, or admitted by a lookup (never recorded).
    if (e == kNoEntry) continue;
    stripe.PlaceByTime(e, change.touched_last_use[t]);
  }
  int64_t steps = steps_.load();
  while (steps < change.steps &&
         !steps_.compare_exchange_weak(steps, change.steps)) {
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> DynamicTable::LogRows() {
  if (options_.change_log == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Dynamic table '", options_.name, "' has no change log to record to"));
  }
  uint64_t position = 0;
  const int64_t now = Now();
  const int64_t steps = steps_.load();
  const size_t rows_per_record =
      std::clamp<size_t>(kBytesPerDumpRecord / (entry_floats_ * sizeof(float)),
                         1, kRowsPerDumpRecord);
  for (const auto& stripe_ptr : stripes_) {
    TableStripe& stripe = *stripe_ptr;
    MutexLock lock(&stripe.mu);
    std::vector<int64_t> ids, last_use;
    std::vector<float> entries;
    // Least recently used first, so that replay rebuilds the recency list.
    uint32_t e = stripe.tail;
    while (e != kNoEntry || !ids.empty()) {
      if (e != kNoEntry) {
        ids.push_back(stripe.ids[e]);
        last_use.push_back(stripe.last_use[e]);
        stripe.use_logged[e] = 1;  // If the record fails, LogRows fails.
        const float* entry = stripe.Entry(e);
        entries.insert(entries.end(), entry, entry + entry_floats_);
        e = stripe.prev[e];
      }
      if (ids.size() == rows_per_record || (e == kNoEntry && !ids.empty())) {
        TableChange change;
        change.time_micros = now;
        change.steps = steps;
        change.written_ids = ids;
        change.written_entries = entries;
        change.written_last_use = last_use;
        absl::StatusOr<uint64_t> logged = Log(change);
        if (!logged.ok()) return logged.status();
        position = *logged;
        ids.clear();
        last_use.clear();
        entries.clear();
      }
    }
  }
  return position;
}

void DynamicTable::ForEachRow(
    const std::function<void(int64_t, int64_t, absl::Span<const float>)>& visit)
    const {
  for (const auto& stripe : stripes_) {
    MutexLock lock(&stripe->mu);
    // Least recently used first, so that replaying the rows in this order
    // rebuilds the same recency list.
    for (uint32_t e = stripe->tail; e != kNoEntry; e = stripe->prev[e]) {
      visit(stripe->ids[e], stripe->last_use[e],
            absl::Span<const float>(stripe->Entry(e), entry_floats_));
    }
  }
}

DynamicTable::Stats DynamicTable::GetStats() const {
  Stats stats;
  stats.stored_rows = stored_.load();
  stats.admitted = admitted_.load();
  stats.evicted_idle = evicted_idle_.load();
  stats.evicted_capacity = evicted_capacity_.load();
  stats.lookup_ids = lookup_ids_.load();
  stats.lookup_hits = lookup_hits_.load();
  stats.dropped_gradient_rows = dropped_gradient_rows_.load();
  stats.steps = steps_.load();
  stats.bytes = sketch_.bytes();
  for (const auto& stripe : stripes_) {
    MutexLock lock(&stripe->mu);
    stats.bytes += stripe->Bytes();
  }
  return stats;
}

}  // namespace paramserver
