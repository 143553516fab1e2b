#include "kernels/dnnl_util.h"

#include <omp.h>

#include "absl/strings/str_cat.h"

namespace paramserver {
namespace kernels {

const dnnl::engine& CpuEngine() {
  static const dnnl::engine* engine =
      new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

absl::Status StatusFromDnnlError(const dnnl::error& e, absl::string_view what) {
  const std::string message = absl::StrCat(what, ": oneDNN: ", e.what());
  switch (e.status) {
    case dnnl_invalid_arguments:
      return absl::InvalidArgumentError(message);
    case dnnl_unimplemented:
      return absl::UnimplementedError(message);
    case dnnl_out_of_memory:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

ScopedOmpThreads::ScopedOmpThreads(int num_threads) {
  if (num_threads <= 0) return;
  saved_ = omp_get_max_threads();
  omp_set_num_threads(num_threads);
}

ScopedOmpThreads::~ScopedOmpThreads() {
  if (saved_ > 0) omp_set_num_threads(saved_);
}

}  // namespace kernels
}  // namespace paramserver
