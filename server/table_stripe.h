#ifndef PARAM_SERVER_SERVER_TABLE_STRIPE_H_
#define PARAM_SERVER_SERVER_TABLE_STRIPE_H_

// One stripe of a DynamicTable (server/dynamic_table.h): an index from id to
// entry, entries (a row and its slots) in fixed chunks, and a doubly linked
// list of entries from most to least recently used. Internal to
// //server:dynamic_table.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "common/mutex.h"

namespace paramserver {

inline constexpr uint32_t kNoEntry = std::numeric_limits<uint32_t>::max();

struct TableStripe {
  TableStripe(size_t chunk_entries, int64_t entry_floats)
      : chunk_entries(chunk_entries), entry_floats(entry_floats) {}

  // Entries per chunk: a growing stripe adds chunks and never copies what it
  // holds.
  const size_t chunk_entries;
  const int64_t entry_floats;

  Mutex mu;
  absl::flat_hash_map<int64_t, uint32_t> index ABSL_GUARDED_BY(mu);
  std::vector<std::unique_ptr<float[]>> chunks ABSL_GUARDED_BY(mu);
  // Per entry.
  std::vector<int64_t> ids ABSL_GUARDED_BY(mu);
  std::vector<int64_t> last_use ABSL_GUARDED_BY(mu);
  // 0: last_use was moved by a lookup and is in no log record yet.
  std::vector<uint8_t> use_logged ABSL_GUARDED_BY(mu);
  std::vector<uint32_t> prev ABSL_GUARDED_BY(mu);
  std::vector<uint32_t> next ABSL_GUARDED_BY(mu);
  std::vector<uint32_t> free_entries ABSL_GUARDED_BY(mu);
  uint32_t head ABSL_GUARDED_BY(mu) = kNoEntry;  // Most recently used.
  uint32_t tail ABSL_GUARDED_BY(mu) = kNoEntry;  // Least recently used.

  // The entry of `id`, or kNoEntry.
  uint32_t Find(int64_t id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const auto it = index.find(id);
    return it == index.end() ? kNoEntry : it->second;
  }

  float* Entry(uint32_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return chunks[e / chunk_entries].get() +
           (e % chunk_entries) * static_cast<size_t>(entry_floats);
  }

  // Marks `e` used at `now` by a change that records it: the head of the
  // list.
  void Touch(uint32_t e, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    last_use[e] = now;
    use_logged[e] = 1;
    if (head == e) return;
    Unlink(e);
    PushFront(e);
  }

  // Marks `e` used at `now` by a lookup, which records nothing.
  void TouchByLookup(uint32_t e, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Touch(e, now);
    use_logged[e] = 0;
  }

  // Replay of a recorded last use: `e` moves to its place in the list,
  // which stays in order of last use (the walk from the head is short for
  // a recent time).
  void PlaceByTime(uint32_t e, int64_t time) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Unlink(e);
    last_use[e] = time;
    use_logged[e] = 1;
    uint32_t after = kNoEntry;  // The entry `e` goes after.
    for (uint32_t f = head; f != kNoEntry && last_use[f] > time; f = next[f]) {
      after = f;
    }
    if (after == kNoEntry) {
      PushFront(e);
      return;
    }
    prev[e] = after;
    next[e] = next[after];
    (next[after] == kNoEntry ? tail : prev[next[after]]) = e;
    next[after] = e;
  }

  // A new entry for `id`, most recently used; its floats are uninitialised.
  uint32_t Allocate(int64_t id, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint32_t e;
    if (!free_entries.empty()) {
      e = free_entries.back();
      free_entries.pop_back();
      ids[e] = id;
      last_use[e] = now;
      use_logged[e] = 1;
    } else {
      e = static_cast<uint32_t>(ids.size());
      if (e % chunk_entries == 0) {
        chunks.emplace_back(new float[chunk_entries * entry_floats]);
      }
      ids.push_back(id);
      last_use.push_back(now);
      use_logged.push_back(1);
      prev.push_back(kNoEntry);
      next.push_back(kNoEntry);
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

  // What the stripe holds: entries, per-entry metadata and the index.
  size_t Bytes() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return chunks.size() * chunk_entries * entry_floats * sizeof(float) +
           (ids.capacity() + last_use.capacity()) * sizeof(int64_t) +
           use_logged.capacity() +
           (prev.capacity() + next.capacity() + free_entries.capacity()) *
               sizeof(uint32_t) +
           index.capacity() * (sizeof(std::pair<const int64_t, uint32_t>) + 1);
  }

 private:
  void Unlink(uint32_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    (prev[e] == kNoEntry ? head : next[prev[e]]) = next[e];
    (next[e] == kNoEntry ? tail : prev[next[e]]) = prev[e];
  }

  void PushFront(uint32_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    prev[e] = kNoEntry;
    next[e] = head;
    (head == kNoEntry ? tail : prev[head]) = e;
    head = e;
  }
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_TABLE_STRIPE_H_
