#include "server/dynamic_table.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
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

constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
// Rows and slots are kept in chunks of about this many bytes, so a growing
// stripe never copies what it holds.
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

}  // namespace

// One stripe's rows: an index from id to entry, entries in chunks, and a
// doubly linked list of entries from most to least recently used.
struct DynamicTable::Stripe {
  explicit Stripe(size_t chunk_entries, int64_t entry_floats)
      : chunk_entries(chunk_entries), entry_floats(entry_floats) {}

  const size_t chunk_entries;
  const int64_t entry_floats;

  Mutex mu;
  absl::flat_hash_map<int64_t, uint32_t> index ABSL_GUARDED_BY(mu);
  std::vector<std::unique_ptr<float[]>> chunks ABSL_GUARDED_BY(mu);
  // Per entry.
  std::vector<int64_t> ids ABSL_GUARDED_BY(mu);
  std::vector<int64_t> last_use ABSL_GUARDED_BY(mu);
  std::vector<uint32_t> prev ABSL_GUARDED_BY(mu);
  std::vector<uint32_t> next ABSL_GUARDED_BY(mu);
  std::vector<uint32_t> free_entries ABSL_GUARDED_BY(mu);
  uint32_t head ABSL_GUARDED_BY(mu) = kNil;  // Most recently used.
  uint32_t tail ABSL_GUARDED_BY(mu) = kNil;  // Least recently used.

  float* Entry(uint32_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return chunks[e / chunk_entries].get() +
           (e % chunk_entries) * static_cast<size_t>(entry_floats);
  }

  void Unlink(uint32_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    (prev[e] == kNil ? head : next[prev[e]]) = next[e];
    (next[e] == kNil ? tail : prev[next[e]]) = prev[e];
  }

  void PushFront(uint32_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    prev[e] = kNil;
    next[e] = head;
    (head == kNil ? tail : prev[head]) = e;
    head = e;
  }

  void Touch(uint32_t e, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    last_use[e] = now;
    if (head == e) return;
    Unlink(e);
    PushFront(e);
  }

  // A new entry for `id`, most recently used; its floats are uninitialised.
  uint32_t Allocate(int64_t id, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint32_t e;
    if (!free_entries.empty()) {
      e = free_entries.back();
      free_entries.pop_back();
      ids[e] = id;
      last_use[e] = now;
    } else {
      e = static_cast<uint32_t>(ids.size());
      if (e % chunk_entries == 0) {
        chunks.emplace_back(new float[chunk_entries * entry_floats]);
      }
      ids.push_back(id);
      last_use.push_back(now);
      prev.push_back(kNil);
      next.push_back(kNil);
    }
    index.emplace(id, e);
    PushFront(e);
    return e;
  }

  void Remove(uint32_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    index.erase(ids[e]);
    Unlink(e);
    free_entries.push_back(e);
  }

  size_t Bytes() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return chunks.size() * chunk_entries * entry_floats * sizeof(float) +
           (ids.capacity() + last_use.capacity()) * sizeof(int64_t) +
           (prev.capacity() + next.capacity() + free_entries.capacity()) *
               sizeof(uint32_t) +
           index.capacity() * (sizeof(std::pair<const int64_t, uint32_t>) + 1);
  }
};

// Holds the stripes of a mask, locked in ascending order (so two calls never
// wait for each other in a cycle), until destroyed.
class DynamicTable::StripeLocks {
 public:
  StripeLocks(DynamicTable* table, uint64_t mask) ABSL_NO_THREAD_SAFETY_ANALYSIS
      : table_(table),
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
  DynamicTable* const table_;
  const uint64_t mask_;
};

struct DynamicTable::Located {
  std::vector<uint32_t> entry;  // Per id; kNil where not stored.
  // Distinct ids to store, in order of first appearance; they are stored by
  // InsertMarked, which fills `inserted` (their entries).
  std::vector<int64_t> to_insert;
  absl::flat_hash_map<int64_t, uint32_t> inserted;
  // Every distinct id of the call: eviction never picks one of them.
  absl::flat_hash_set<int64_t> call_ids;

  // The entry of ids[i] after InsertMarked, or kNil.
  uint32_t EntryOf(size_t i, int64_t id) const {
    if (entry[i] != kNil) return entry[i];
    const auto it = inserted.find(id);
    return it == inserted.end() ? kNil : it->second;
  }
};

absl::StatusOr<std::unique_ptr<DynamicTable>> DynamicTable::Create(
    DynamicTableOptions options) {
  const std::string& name = options.name;
  if (options.width < 1 || options.width > kMaxWidth) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", name, "': width must be in [1, ",
                     kMaxWidth, "], got ", options.width));
  }
  if (!options.initializer.seed.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", name,
        "': its initializer needs a seed, so that every shard and restart "
        "gives a new id the same row"));
  }
  const absl::Status initializer_status = ValidateInitializer(
      options.initializer, DType::kFloat, {options.width}, name);
  if (!initializer_status.ok()) return initializer_status;
  if (options.optimizer == OptimizerKind::kAdam) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", name,
        "': Adam moves every row on every step; use LazyAdam, which updates "
        "only the rows a gradient touches"));
  }
  OptimizerSpec slots_of;
  slots_of.kind = options.optimizer;
  slots_of.initial_accumulator_value = options.initial_accumulator_value;
  const absl::Status optimizer_status = ValidateOptimizer(slots_of);
  if (!optimizer_status.ok()) return optimizer_status;
  if (options.admit_after < 1 ||
      options.admit_after > AdmissionSketch::kMaxCount) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", name, "': admit_after must be in [1, ",
        AdmissionSketch::kMaxCount, "], got ", options.admit_after));
  }
  if (options.capacity < 0 || options.ttl_micros < 0 ||
      options.sweep_interval_micros < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", name,
                     "': capacity, TTL and sweep interval must not be "
                     "negative"));
  }
  const int stripes = options.stripes;
  if (stripes < 1 || stripes > 64 || (stripes & (stripes - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table '", name,
        "': stripes must be a power of two in [1, 64], got ", stripes));
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
      table->options_.width *
      (1 + static_cast<int64_t>(table->initial_slot_values_.size()));
  const size_t entry_bytes = table->entry_floats_ * sizeof(float);
  const size_t chunk_entries = std::max<size_t>(1, kChunkBytes / entry_bytes);
  for (int i = 0; i < stripes; ++i) {
    table->stripes_.push_back(
        std::make_unique<Stripe>(chunk_entries, table->entry_floats_));
  }
  if (table->options_.sweep_interval_micros > 0) {
    table->sweeper_ = std::thread([t = table.get()] { t->SweepLoop(); });
  }
  return table;
}

DynamicTable::DynamicTable(DynamicTableOptions options)
    : options_(std::move(options)),
      // Without an admission threshold the sketch is never read: keep it at
      // its smallest.
      sketch_(options_.admit_after > 1 ? options_.admission_counters : 0) {}

DynamicTable::~DynamicTable() {
  if (sweeper_.joinable()) {
    {
      MutexLock lock(&sweep_mu_);
      stopping_ = true;
    }
    sweep_mu_.NotifyAll();
    sweeper_.join();
  }
}

void DynamicTable::SweepLoop() {
  const auto interval =
      std::chrono::microseconds(options_.sweep_interval_micros);
  while (true) {
    {
      MutexLock lock(&sweep_mu_);
      if (sweep_mu_.AwaitFor([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                 sweep_mu_) { return stopping_; },
                             interval)) {
        return;
      }
    }
    EvictIdle();
  }
}

int64_t DynamicTable::Now() const { return options_.now_micros(); }

int DynamicTable::StripeOf(int64_t id) const {
  return static_cast<int>(Mix64(static_cast<uint64_t>(id)) &
                          (stripes_.size() - 1));
}

uint64_t DynamicTable::StripeMask(absl::Span<const int64_t> ids) const {
  uint64_t mask = 0;
  const uint64_t all = stripes_.size() == 64
                           ? ~uint64_t{0}
                           : (uint64_t{1} << stripes_.size()) - 1;
  for (const int64_t id : ids) {
    mask |= uint64_t{1} << StripeOf(id);
    if (mask == all) break;
  }
  return mask;
}

DynamicTable::Located DynamicTable::Locate(absl::Span<const int64_t> ids) {
  Located located;
  located.entry.resize(ids.size(), kNil);
  located.call_ids.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    located.call_ids.insert(ids[i]);
    Stripe& stripe = *stripes_[StripeOf(ids[i])];
    stripe.mu.AssertHeld();
    const auto it = stripe.index.find(ids[i]);
    if (it != stripe.index.end()) located.entry[i] = it->second;
  }
  return located;
}

void DynamicTable::InitialEntry(int64_t id, float* entry) const {
  InitializerSpec spec = options_.initializer;
  spec.seed = RowSeed(*options_.initializer.seed, id);
  const int64_t width = options_.width;
  RunInitializer(
      spec, DType::kFloat, {width},
      absl::Span<char>(reinterpret_cast<char*>(entry), width * sizeof(float)));
  for (size_t s = 0; s < initial_slot_values_.size(); ++s) {
    std::fill_n(entry + (s + 1) * width, width, initial_slot_values_[s]);
  }
}

absl::Status DynamicTable::ReserveRows(int64_t new_rows, int64_t* to_evict) {
  *to_evict = 0;
  if (new_rows == 0) return absl::OkStatus();
  if (options_.capacity == 0) {
    stored_.fetch_add(new_rows);
    return absl::OkStatus();
  }
  int64_t stored = stored_.load();
  while (true) {
    const int64_t room = std::max<int64_t>(0, options_.capacity - stored);
    const int64_t take = std::min(new_rows, room);
    if (take < new_rows && !options_.evict_when_full) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Dynamic table '", options_.name, "' is full: it holds at most ",
          options_.capacity, " rows, ", stored, " are stored and this call ",
          "adds ", new_rows, " (eviction when full is off)"));
    }
    if (stored_.compare_exchange_weak(stored, stored + take)) {
      *to_evict = new_rows - take;
      return absl::OkStatus();
    }
  }
}

uint32_t DynamicTable::Insert(Stripe& stripe, int64_t id, int64_t now) {
  stripe.mu.AssertHeld();
  const uint32_t e = stripe.Allocate(id, now);
  InitialEntry(id, stripe.Entry(e));
  admitted_.fetch_add(1, std::memory_order_relaxed);
  return e;
}

void DynamicTable::InsertMarked(Located& located, int64_t to_evict,
                                int64_t now) {
  // The first `to_evict` inserts each evict a row first (ReserveRows counted
  // only the rest).
  for (const int64_t id : located.to_insert) {
    Stripe& stripe = *stripes_[StripeOf(id)];
    stripe.mu.AssertHeld();
    if (to_evict > 0) {
      --to_evict;
      uint32_t victim = stripe.tail;
      while (victim != kNil && located.call_ids.contains(stripe.ids[victim])) {
        victim = stripe.prev[victim];
      }
      if (victim != kNil) {
        stripe.Remove(victim);
        evicted_capacity_.fetch_add(1, std::memory_order_relaxed);
      } else {
        // Nothing here may go: the table runs over its capacity until
        // EvictIdle trims it.
        stored_.fetch_add(1);
      }
    }
    located.inserted.emplace(id, Insert(stripe, id, now));
  }
}

absl::Status DynamicTable::Lookup(absl::Span<const int64_t> ids,
                                  absl::Span<float> out) {
  const int64_t width = options_.width;
  if (out.size() != ids.size() * static_cast<size_t>(width)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", options_.name, "': a lookup of ",
                     ids.size(), " ids needs room for ", ids.size() * width,
                     " floats, got ", out.size()));
  }
  if (ids.empty()) return absl::OkStatus();
  StripeLocks locks(this, StripeMask(ids));
  const int64_t now = Now();
  Located located = Locate(ids);

  // Which missing ids this call admits, decided before anything changes.
  absl::flat_hash_map<int64_t, uint32_t> sightings;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (located.entry[i] == kNil) ++sightings[ids[i]];
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (located.entry[i] != kNil) continue;
    auto it = sightings.find(ids[i]);
    if (it == sightings.end()) continue;  // Decided at its first sighting.
    const uint32_t seen =
        (options_.admit_after > 1 ? sketch_.Estimate(ids[i]) : 0) + it->second;
    if (seen >= options_.admit_after) located.to_insert.push_back(ids[i]);
    sightings.erase(it);
  }
  int64_t to_evict = 0;
  const absl::Status reserved =
      ReserveRows(static_cast<int64_t>(located.to_insert.size()), &to_evict);
  if (!reserved.ok()) return reserved;

  if (options_.admit_after > 1) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (located.entry[i] == kNil) sketch_.Add(ids[i]);
    }
  }
  InsertMarked(located, to_evict, now);
  int64_t hits = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    float* row_out = out.data() + i * width;
    if (located.entry[i] != kNil) ++hits;
    const uint32_t e = located.EntryOf(i, ids[i]);
    if (e == kNil) {
      // Not admitted: its initial row, which is what it will be stored with.
      InitializerSpec spec = options_.initializer;
      spec.seed = RowSeed(*options_.initializer.seed, ids[i]);
      RunInitializer(spec, DType::kFloat, {width},
                     absl::Span<char>(reinterpret_cast<char*>(row_out),
                                      width * sizeof(float)));
      continue;
    }
    Stripe& stripe = *stripes_[StripeOf(ids[i])];
    stripe.mu.AssertHeld();
    std::memcpy(row_out, stripe.Entry(e), width * sizeof(float));
    stripe.Touch(e, now);
  }
  lookup_ids_.fetch_add(static_cast<int64_t>(ids.size()),
                        std::memory_order_relaxed);
  lookup_hits_.fetch_add(hits, std::memory_order_relaxed);
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
  const int64_t width = options_.width;
  if (rows.size() != ids.size() * static_cast<size_t>(width)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", options_.name, "': ", ids.size(),
                     " ids need ", ids.size(), " rows of ", width, " floats (",
                     ids.size() * width, "), got ", rows.size(), " floats"));
  }
  if (ids.empty()) return absl::OkStatus();
  StripeLocks locks(this, StripeMask(ids));
  const int64_t now = Now();
  Located located = Locate(ids);
  absl::flat_hash_set<int64_t> marked;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (located.entry[i] == kNil && marked.insert(ids[i]).second) {
      located.to_insert.push_back(ids[i]);
    }
  }
  int64_t to_evict = 0;
  const absl::Status reserved =
      ReserveRows(static_cast<int64_t>(located.to_insert.size()), &to_evict);
  if (!reserved.ok()) return reserved;
  InsertMarked(located, to_evict, now);
  for (size_t i = 0; i < ids.size(); ++i) {
    Stripe& stripe = *stripes_[StripeOf(ids[i])];
    stripe.mu.AssertHeld();
    const uint32_t e = located.EntryOf(i, ids[i]);
    float* row = stripe.Entry(e);
    const float* value = rows.data() + i * width;
    if (add) {
      for (int64_t k = 0; k < width; ++k) row[k] += value[k];
    } else {
      std::memcpy(row, value, width * sizeof(float));
    }
    stripe.Touch(e, now);
  }
  return absl::OkStatus();
}

absl::Status DynamicTable::ApplyGradient(const OptimizerSpec& optimizer,
                                         absl::Span<const int64_t> ids,
                                         absl::Span<const float> grad) {
  const int64_t width = options_.width;
  if (optimizer.kind != options_.optimizer) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", options_.name, "' keeps the slots of ",
                     OptimizerKindName(options_.optimizer),
                     "; a gradient push must use it, got ",
                     OptimizerKindName(optimizer.kind)));
  }
  const absl::Status valid = ValidateOptimizer(optimizer);
  if (!valid.ok()) return valid;
  const bool has_accumulator = optimizer.kind == OptimizerKind::kAdagrad ||
                               optimizer.kind == OptimizerKind::kFtrl;
  if (has_accumulator &&
      static_cast<float>(optimizer.initial_accumulator_value) !=
          static_cast<float>(options_.initial_accumulator_value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", options_.name,
                     "' was made with initial_accumulator_value ",
                     options_.initial_accumulator_value, "; a push asked for ",
                     optimizer.initial_accumulator_value));
  }
  if (grad.size() != ids.size() * static_cast<size_t>(width)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table '", options_.name, "': ", ids.size(),
                     " ids need a gradient of ", ids.size() * width,
                     " floats, got ", grad.size()));
  }
  if (ids.empty()) return absl::OkStatus();
  StripeLocks locks(this, StripeMask(ids));
  const int64_t now = Now();
  Located located = Locate(ids);

  // The touched entries copied into local arrays the sparse kernels take:
  // one local row per distinct id, the ids not stored sharing one scratch
  // row whose result is thrown away.
  absl::flat_hash_map<int64_t, int64_t> local_of;
  std::vector<uint32_t> entry_of_local;
  std::vector<int64_t> local_ids(ids.size());
  int64_t dropped = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (located.entry[i] == kNil) {
      local_ids[i] = -1;  // Scratch, numbered below.
      ++dropped;
      continue;
    }
    const auto [it, inserted] = local_of.try_emplace(
        ids[i], static_cast<int64_t>(entry_of_local.size()));
    if (inserted) entry_of_local.push_back(located.entry[i]);
    local_ids[i] = it->second;
  }
  const int64_t stored_rows = static_cast<int64_t>(entry_of_local.size());
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
  // Entries are [row, slot 0, slot 1, ...], each `width` floats.
  std::vector<Stripe*> stripe_of_local(stored_rows);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (located.entry[i] != kNil) {
      stripe_of_local[local_ids[i]] = stripes_[StripeOf(ids[i])].get();
    }
  }
  for (int64_t local = 0; local < stored_rows; ++local) {
    Stripe& stripe = *stripe_of_local[local];
    stripe.mu.AssertHeld();
    const float* entry = stripe.Entry(entry_of_local[local]);
    for (size_t a = 0; a <= slots; ++a) {
      std::memcpy(arrays[a].data() + local * width, entry + a * width,
                  width * sizeof(float));
    }
  }
  std::vector<float*> slot_arrays;
  for (size_t a = 1; a <= slots; ++a) slot_arrays.push_back(arrays[a].data());
  const int64_t step = steps_.fetch_add(1) + 1;
  ApplySparseOptimizer<float>(optimizer, step, local_rows, width, local_ids,
                              grad.data(), arrays[0].data(), slot_arrays);
  for (int64_t local = 0; local < stored_rows; ++local) {
    Stripe& stripe = *stripe_of_local[local];
    stripe.mu.AssertHeld();
    float* entry = stripe.Entry(entry_of_local[local]);
    for (size_t a = 0; a <= slots; ++a) {
      std::memcpy(entry + a * width, arrays[a].data() + local * width,
                  width * sizeof(float));
    }
    stripe.Touch(entry_of_local[local], now);
  }
  dropped_gradient_rows_.fetch_add(dropped, std::memory_order_relaxed);
  return absl::OkStatus();
}

int64_t DynamicTable::EvictIdle() {
  int64_t evicted = 0;
  if (options_.ttl_micros > 0) {
    const int64_t now = Now();
    for (const auto& stripe_ptr : stripes_) {
      Stripe& stripe = *stripe_ptr;
      MutexLock lock(&stripe.mu);
      while (stripe.tail != kNil &&
             now - stripe.last_use[stripe.tail] > options_.ttl_micros) {
        stripe.Remove(stripe.tail);
        stored_.fetch_sub(1);
        evicted_idle_.fetch_add(1, std::memory_order_relaxed);
        ++evicted;
      }
    }
  }
  if (options_.capacity > 0) {
    for (const auto& stripe_ptr : stripes_) {
      Stripe& stripe = *stripe_ptr;
      MutexLock lock(&stripe.mu);
      while (stored_.load() > options_.capacity && stripe.tail != kNil) {
        stripe.Remove(stripe.tail);
        stored_.fetch_sub(1);
        evicted_capacity_.fetch_add(1, std::memory_order_relaxed);
        ++evicted;
      }
    }
  }
  return evicted;
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
