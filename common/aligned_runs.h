#ifndef PARAM_SERVER_COMMON_ALIGNED_RUNS_H_
#define PARAM_SERVER_COMMON_ALIGNED_RUNS_H_

// Reads an array of T from bytes with no alignment promise (a protobuf
// string, a received buffer) without copying it whole: aligned bytes are
// read in place, unaligned ones through a few KB at a time.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace paramserver {

// Calls f(first, count, data) over elements [begin, end) of the array of T
// whose bytes are `bytes`, in order and each element once: data[0 .. count)
// are elements first .. first + count, aligned for T. When `bytes` is
// aligned for T that is one call, in place; otherwise the elements are copied
// 4 KB at a time, so the copy stays in the L1 cache for f to read. Requires
// end * sizeof(T) <= bytes.size().
template <typename T, typename F>
void ForEachAlignedRun(absl::string_view bytes, int64_t begin, int64_t end,
                       F&& f) {
  if (begin >= end) return;
  const char* data = bytes.data() + begin * sizeof(T);
  if (reinterpret_cast<uintptr_t>(data) % alignof(T) == 0) {
    f(begin, end - begin, reinterpret_cast<const T*>(data));
    return;
  }
  constexpr int64_t kCopied = 4096 / sizeof(T);
  alignas(T) char copied[kCopied * sizeof(T)];
  for (int64_t first = begin; first < end; first += kCopied) {
    const int64_t count = std::min(kCopied, end - first);
    std::memcpy(copied, bytes.data() + first * sizeof(T), count * sizeof(T));
    f(first, count, reinterpret_cast<const T*>(copied));
  }
}

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_ALIGNED_RUNS_H_
