// Argument checks shared by the kernels: each returns OK or an
// INVALID_ARGUMENT naming the offending argument. None throws.

#ifndef PARAMSERVER_KERNELS_TENSOR_CHECKS_H_
#define PARAMSERVER_KERNELS_TENSOR_CHECKS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace paramserver {
namespace kernels {

// A caller's span must hold exactly `expected` elements.
absl::Status CheckSpanSize(size_t actual, int64_t expected, const char* name);

// A blocked activation must be allocated memory with exactly `expected` as
// its descriptor.
absl::Status CheckBlockedMemory(const dnnl::memory& memory,
                                const dnnl::memory::desc& expected,
                                const char* name);

// An f32 activation descriptor with logical dims `nchw`.
absl::Status CheckActivationDesc(const dnnl::memory::desc& desc,
                                 const dnnl::memory::dims& nchw,
                                 const char* name);

}  // namespace kernels
}  // namespace paramserver

#endif  // PARAMSERVER_KERNELS_TENSOR_CHECKS_H_
