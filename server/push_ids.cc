#include "server/push_ids.h"

namespace paramserver {

size_t PushIdTable::EntryBytes(absl::string_view id,
                               const std::vector<VariableInfo>& answer) {
  // The map's and the order's copies of the id, and each answer's fields.
  size_t bytes = 2 * (id.size() + sizeof(std::string)) + sizeof(Entry);
  for (const VariableInfo& info : answer) {
    bytes += sizeof(VariableInfo) + info.name.size() +
             info.shape.size() * sizeof(int64_t);
  }
  return bytes;
}

PushIdTable::Begun PushIdTable::Begin(absl::string_view id) {
  MutexLock lock(&mu_);
  for (;;) {
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      Entry& entry = entries_[std::string(id)];
      entry.generation = next_generation_++;
      return Begun{true, {}};
    }
    if (it->second.ended) return Begun{false, it->second.answer};
    const uint64_t generation = it->second.generation;
    // Until the claim ends: then the id is answered, or gone (failed).
    mu_.Await([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      auto found = entries_.find(id);
      return found == entries_.end() ||
             found->second.generation != generation || found->second.ended;
    });
  }
}

void PushIdTable::AnswerLocked(Entry& entry, absl::string_view id,
                               std::vector<VariableInfo> answer) {
  if (entry.answered) {
    bytes_ -= entry.bytes;
  } else {
    entry.answered = true;
    ++answered_;
    order_.emplace_back(std::string(id), entry.generation);
  }
  entry.bytes = EntryBytes(id, answer);
  bytes_ += entry.bytes;
  entry.answer = std::move(answer);
}

void PushIdTable::Answer(absl::string_view id,
                         std::vector<VariableInfo> answer) {
  MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  AnswerLocked(it->second, id, std::move(answer));
}

void PushIdTable::End(absl::string_view id, bool forget) {
  {
    MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    Entry& entry = it->second;
    if (!entry.answered || forget) {
      if (entry.answered) {
        --answered_;
        bytes_ -= entry.bytes;
      }
      entries_.erase(it);  // Its pair in order_ is now stale.
    } else {
      entry.ended = true;
      EvictLocked();
    }
  }
  mu_.NotifyAll();
}

void PushIdTable::Remember(absl::string_view id,
                           std::vector<VariableInfo> answer) {
  {
    MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      it = entries_.emplace(std::string(id), Entry{}).first;
      it->second.generation = next_generation_++;
    }
    it->second.ended = true;
    AnswerLocked(it->second, id, std::move(answer));
    EvictLocked();
  }
  mu_.NotifyAll();
}

void PushIdTable::EvictLocked() {
  while ((answered_ > max_entries_ || bytes_ > max_bytes_) && !order_.empty()) {
    auto [id, generation] = std::move(order_.front());
    order_.pop_front();
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.generation != generation) continue;
    // An id still claimed stays (its claimant's End would otherwise find
    // nothing), but no longer counts: it is forgotten when it ends.
    --answered_;
    bytes_ -= it->second.bytes;
    if (it->second.ended) {
      entries_.erase(it);
    } else {
      it->second.answered = false;
      it->second.bytes = 0;
    }
  }
}

std::vector<RememberedPush> PushIdTable::Snapshot() const {
  MutexLock lock(&mu_);
  std::vector<RememberedPush> remembered;
  remembered.reserve(answered_);
  for (const auto& [id, generation] : order_) {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.generation != generation ||
        !it->second.answered) {
      continue;
    }
    remembered.push_back({id, it->second.answer});
  }
  return remembered;
}

size_t PushIdTable::size() const {
  MutexLock lock(&mu_);
  return answered_;
}

size_t PushIdTable::bytes() const {
  MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace paramserver
