#ifndef PARAM_SERVER_SERVER_PUSH_IDS_H_
#define PARAM_SERVER_SERVER_PUSH_IDS_H_

// The push ids a store remembers, so that a push repeated with the id of one
// it already applied (a client retrying after a lost reply) gets the first
// answer instead of being applied again.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "common/mutex.h"
#include "common/update_spec.h"
#include "common/variable_spec.h"
#include "server/change_log.h"

namespace paramserver {

// The longest push id accepted is kMaxPushIdBytes (common/update_spec.h).

// Bounded: at most `max_entries` answered ids and about `max_bytes` of them
// (ids, names and shapes of the answers; see EntryBytes), the oldest
// answered first evicted. An id in progress is not counted until answered.
// One gap: an answered id evicted before its claimant Ends (the bound
// overrun by other pushes within one push's log commit) is forgotten at End,
// so a repeat waiting for it applies again.
// Thread-safe.
class PushIdTable {
 public:
  PushIdTable(size_t max_entries, size_t max_bytes)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  struct Begun {
    bool claimed = false;              // The caller applies and then Ends.
    std::vector<VariableInfo> answer;  // When not claimed: the first answer.
  };
  // For a remembered id: its answer. For an id another caller has claimed
  // and not ended: waits for it to end, then answers or (if it failed)
  // claims. Otherwise claims `id`: the caller must call End(id) once.
  Begun Begin(absl::string_view id) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the answer of an id the caller claimed; from here on it is
  // remembered (Snapshot has it), though concurrent Begins wait until End.
  void Answer(absl::string_view id, std::vector<VariableInfo> answer)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends a claim: an answered id stays remembered; one not answered (the push
  // failed and applied nothing) is forgotten, and a waiter claims it.
  // `forget` forgets it even if answered (its log record failed to commit).
  void End(absl::string_view id, bool forget = false) ABSL_LOCKS_EXCLUDED(mu_);
  // Replay: remembers `id` with `answer` as the newest (an id already
  // remembered gets the new answer and keeps its age).
  void Remember(absl::string_view id, std::vector<VariableInfo> answer)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every answered id, oldest first (for a checkpoint).
  std::vector<RememberedPush> Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);  // Answered ids.
  size_t bytes() const ABSL_LOCKS_EXCLUDED(mu_);

  // What an answered id counts against max_bytes.
  static size_t EntryBytes(absl::string_view id,
                           const std::vector<VariableInfo>& answer);

 private:
  struct Entry {
    bool answered = false;
    bool ended = false;
    uint64_t generation = 0;  // Tells a re-claimed id from the one evicted.
    std::vector<VariableInfo> answer;
    size_t bytes = 0;
  };
  void AnswerLocked(Entry& entry, absl::string_view id,
                    std::vector<VariableInfo> answer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  const size_t max_bytes_;

  mutable Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Answered ids, oldest first, with their generation; stale pairs (an id
  // forgotten or evicted since) are skipped.
  std::deque<std::pair<std::string, uint64_t>> order_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  size_t answered_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_PUSH_IDS_H_
