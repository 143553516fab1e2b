#ifndef PARAM_SERVER_COMMON_PARALLEL_FOR_H_
#define PARAM_SERVER_COMMON_PARALLEL_FOR_H_

// Splits [0, n) into disjoint ranges and runs them on the machine's cores,
// for work on large tensors whose items are independent (initializers'
// blocks, optimizers' elements), so the result does not depend on how many
// threads ran. Threads are started per call: worth it only when each gets
// at least a few milliseconds of work, which `min_per_thread` says.

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace paramserver {

// At most this many threads for one call.
inline constexpr int64_t kMaxParallelForThreads = 16;

// The cores this process may run on (its affinity mask, as a container's
// cpuset sets it), at least 1.
inline int64_t UsableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    return std::max(1, CPU_COUNT(&set));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// How many threads ParallelFor uses for `n` items of which each thread must
// get at least `min_per_thread`: at least 1, at most the usable cores.
inline int64_t ParallelForThreads(int64_t n, int64_t min_per_thread) {
  const int64_t cores = UsableCores();
  return std::max<int64_t>(
      1, std::min({cores, kMaxParallelForThreads,
                   n / std::max<int64_t>(1, min_per_thread)}));
}

// Calls fn(first, last) on disjoint ranges covering [0, n), the first on the
// calling thread. A thread that cannot be started has its share done by the
// caller instead.
template <typename Fn>
void ParallelFor(int64_t n, int64_t min_per_thread, const Fn& fn) {
  const int64_t threads = ParallelForThreads(n, min_per_thread);
  std::vector<std::thread> workers;
  for (int64_t t = 1; t < threads; ++t) {
    const int64_t first = n * t / threads;
    const int64_t last = n * (t + 1) / threads;
    try {
      workers.emplace_back(fn, first, last);
    } catch (const std::system_error&) {
      fn(first, last);
    }
  }
  fn(0, n / threads);
  for (std::thread& worker : workers) worker.join();
}

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_PARALLEL_FOR_H_
