#include "server/push_buffer_pool.h"

#include <utility>

namespace paramserver {

std::string PushBufferPool::Take(size_t bytes) {
  std::string buffer;
  if (bytes >= kMinPooledBytes) {
    MutexLock lock(&mu_);
    auto it = kept_.lower_bound(bytes);
    if (it != kept_.end() && it->first / 2 <= bytes) {
      buffer = std::move(it->second);
      kept_bytes_ -= static_cast<int64_t>(it->first);
      kept_.erase(it);
    }
  }
  buffer.clear();
  buffer.reserve(bytes);
  return buffer;
}

void PushBufferPool::Give(std::string buffer) {
  const size_t room = buffer.capacity();
  if (room < kMinPooledBytes) return;
  MutexLock lock(&mu_);
  if (kept_bytes_ + static_cast<int64_t>(room) > max_bytes_) return;
  kept_bytes_ += static_cast<int64_t>(room);
  kept_.emplace(room, std::move(buffer));
}

int64_t PushBufferPool::kept_bytes() {
  MutexLock lock(&mu_);
  return kept_bytes_;
}

}  // namespace paramserver
