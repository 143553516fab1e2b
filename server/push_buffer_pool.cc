#include "server/push_buffer_pool.h"

#include <iterator>
#include <utility>

namespace paramserver {

std::string PushBufferPool::Take(size_t bytes) {
  std::string buffer;
  if (bytes >= kMinPooledBytes) {
    MutexLock lock(&mu_);
    auto best = kept_.end();
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      const size_t room = it->capacity();
      if (room >= bytes && room - bytes <= bytes / 4 &&
          (best == kept_.end() || room < best->capacity())) {
        best = it;
      }
    }
    if (best != kept_.end()) {
      kept_bytes_ -= static_cast<int64_t>(best->capacity());
      buffer = std::move(*best);
      kept_.erase(best);
    }
  }
  buffer.clear();
  buffer.reserve(bytes);
  return buffer;
}

void PushBufferPool::Give(std::string buffer) {
  const int64_t room = static_cast<int64_t>(buffer.capacity());
  if (buffer.capacity() < kMinPooledBytes || room > max_bytes_) return;
  std::list<std::string> freed;  // Freed after the lock is released.
  MutexLock lock(&mu_);
  while (kept_bytes_ + room > max_bytes_) {
    kept_bytes_ -= static_cast<int64_t>(kept_.back().capacity());
    freed.splice(freed.begin(), kept_, std::prev(kept_.end()));
  }
  kept_bytes_ += room;
  kept_.push_front(std::move(buffer));
}

int64_t PushBufferPool::kept_bytes() {
  MutexLock lock(&mu_);
  return kept_bytes_;
}

}  // namespace paramserver
