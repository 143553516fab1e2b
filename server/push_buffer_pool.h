#ifndef PARAM_SERVER_SERVER_PUSH_BUFFER_POOL_H_
#define PARAM_SERVER_SERVER_PUSH_BUFFER_POOL_H_

// Buffers a PushChunks stream gathers its values in, kept from one push to
// the next. A buffer fresh from the allocator is faulted in page by page as
// the chunks fill it (on this project's machines that costs more than the
// copy itself); a model pushes the same sizes every step, so the buffers of
// one push serve the next. The pool keeps at most a set number of bytes; the
// memory it keeps is the process's but no variable's, so it does not count
// against the store's --max_total_bytes.

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"

namespace paramserver {

// What a server keeps unless told otherwise (--push_buffer_pool_bytes): the
// values of two or three pushes of a ResNet-50-sized model.
inline constexpr int64_t kDefaultPushBufferPoolBytes = int64_t{256} << 20;

class PushBufferPool {
 public:
  // Buffers smaller than this are not kept: the allocator serves them fast.
  static constexpr size_t kMinPooledBytes = 64 << 10;

  explicit PushBufferPool(int64_t max_bytes) : max_bytes_(max_bytes) {}

  // An empty string with room for `bytes`: the smallest kept one that fits
  // (and is at most a quarter larger), a new one otherwise.
  std::string Take(size_t bytes);
  // Keeps `buffer` for a later Take when it is large enough, first freeing
  // the buffers given back longest ago until it fits under the limit: what
  // the last pushes used is what the next ones will ask for.
  void Give(std::string buffer);

  int64_t kept_bytes();

 private:
  const int64_t max_bytes_;
  Mutex mu_;
  // Newest first. Takes scan it: a push holds at most kMaxUpdatesPerPush
  // values, and the scan costs nothing next to moving their bytes.
  std::list<std::string> kept_ ABSL_GUARDED_BY(mu_);
  int64_t kept_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_PUSH_BUFFER_POOL_H_
