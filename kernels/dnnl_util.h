// Small pieces every oneDNN wrapper here needs: the shared CPU engine, the
// conversion of oneDNN's exceptions to absl::Status, and scoped control of
// the OpenMP thread count (Debian's libdnnl uses the OpenMP runtime).

#ifndef PARAMSERVER_KERNELS_DNNL_UTIL_H_
#define PARAMSERVER_KERNELS_DNNL_UTIL_H_

#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace paramserver {
namespace kernels {

// The process-wide CPU engine. Engines are thread-safe; sharing one lets
// memory objects move between primitives of different objects.
// Throws dnnl::error if oneDNN cannot create a CPU engine.
const dnnl::engine& CpuEngine();

// Maps a oneDNN error to a status: invalid_arguments -> INVALID_ARGUMENT,
// unimplemented -> UNIMPLEMENTED (no implementation for this shape/format),
// out_of_memory -> RESOURCE_EXHAUSTED, anything else -> INTERNAL.
absl::Status StatusFromDnnlError(const dnnl::error& e, absl::string_view what);

// Runs `fn` (returning absl::Status or absl::StatusOr<T>) and turns any
// exception oneDNN or the allocator throws into a status. This is the single
// place where exceptions stop.
template <typename Fn>
auto CallDnnl(absl::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const dnnl::error& e) {
    return StatusFromDnnlError(e, what);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  }
}

// Sets the calling thread's OpenMP thread count for the scope and restores
// it afterwards; num_threads == 0 leaves it unchanged. oneDNN reads the count
// when a primitive is created (to partition work) and when it runs, so wrap
// both. Affects only the calling thread.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int num_threads);
  ~ScopedOmpThreads();
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int saved_ = 0;  // 0 when nothing was changed.
};

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_DNNL_UTIL_H_
