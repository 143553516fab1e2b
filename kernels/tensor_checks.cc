#include "kernels/tensor_checks.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace paramserver {
namespace kernels {

absl::Status CheckSpanSize(size_t actual, int64_t expected, const char* name) {
  if (actual == static_cast<size_t>(expected)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(name, " has ", actual, " elements; expected ", expected));
}

absl::Status CheckBlockedMemory(const dnnl::memory& memory,
                                const dnnl::memory::desc& expected,
                                const char* name) {
  if (!memory || memory.get_data_handle() == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is not allocated memory"));
  }
  if (memory.get_desc() != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " is not in the layout this convolution expects (dims ",
        absl::StrJoin(memory.get_desc().dims(), "x"), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckActivationDesc(const dnnl::memory::desc& desc,
                                 const dnnl::memory::dims& nchw,
                                 const char* name) {
  if (desc.data_type() == dnnl::memory::data_type::f32 && desc.dims() == nchw) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      name, " must be f32 with NCHW dims ", absl::StrJoin(nchw, "x"),
      "; got dims ", absl::StrJoin(desc.dims(), "x")));
}

}  // namespace kernels
}  // namespace paramserver
