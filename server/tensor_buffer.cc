#include "server/tensor_buffer.h"

#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace paramserver {

absl::StatusOr<std::shared_ptr<TensorBuffer>> TensorBuffer::Allocate(
    size_t size) {
  // operator new(0) returns a unique pointer, so empty tensors need no case.
  void* data = ::operator new(size, std::align_val_t(kAlignment), std::nothrow);
  if (data == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("Out of memory allocating ", size, " bytes."));
  }
  return std::shared_ptr<TensorBuffer>(
      new TensorBuffer(static_cast<char*>(data), size));
}

TensorBuffer::~TensorBuffer() {
  ::operator delete(data_, std::align_val_t(kAlignment));
}

}  // namespace paramserver
