#ifndef PARAM_SERVER_SERVER_TENSOR_BUFFER_H_
#define PARAM_SERVER_SERVER_TENSOR_BUFFER_H_

#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace paramserver {

// The bytes of one tensor value: 64-byte aligned (a cache line, and what
// oneDNN and AVX-512 loads like), fixed size, not copyable. Values are shared
// by std::shared_ptr so a reader can send a snapshot while writers install a
// new value; a buffer is never modified once published to readers.
class TensorBuffer {
 public:
  static constexpr size_t kAlignment = 64;

  // RESOURCE_EXHAUSTED when the allocation fails. The contents are
  // uninitialized.
  static absl::StatusOr<std::shared_ptr<TensorBuffer>> Allocate(size_t size);

  ~TensorBuffer();
  TensorBuffer(const TensorBuffer&) = delete;
  TensorBuffer& operator=(const TensorBuffer&) = delete;

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  absl::Span<char> span() { return absl::MakeSpan(data_, size_); }
  absl::Span<const char> span() const {
    return absl::MakeConstSpan(data_, size_);
  }

 private:
  TensorBuffer(char* data, size_t size) : data_(data), size_(size) {}

  char* const data_;
  const size_t size_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_TENSOR_BUFFER_H_
