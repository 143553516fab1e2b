#ifndef PARAM_SERVER_COMMON_VALUE_PIECES_H_
#define PARAM_SERVER_COMMON_VALUE_PIECES_H_

// A value's bytes held in pieces, in order, as they were received: a server
// applies a value that arrived in many messages straight from the buffers it
// arrived in, without joining them first. Pieces carry no alignment promise;
// ForEachRun hands elements out aligned, in place wherever it can.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace paramserver {

class ValuePieces {
 public:
  // The value is `pieces` joined, in order. Views only: the bytes must
  // outlive this object.
  explicit ValuePieces(std::vector<absl::string_view> pieces);
  explicit ValuePieces(absl::string_view whole)
      : ValuePieces(std::vector<absl::string_view>{whole}) {}

  size_t size() const { return size_; }
  absl::Span<const absl::string_view> pieces() const { return pieces_; }

  // Copies the whole value to `out`, which has room for size() bytes.
  void CopyTo(char* out) const;

  // Calls f(first, count, data) over elements [begin, end) of the value read
  // as an array of T, in order and each element once: data[0 .. count) are
  // elements first .. first + count, aligned for T. Runs lie in place where
  // a piece's bytes are aligned; unaligned bytes and elements split between
  // pieces are copied through a small buffer first. Requires
  // end * sizeof(T) <= size().
  template <typename T, typename F>
  void ForEachRun(int64_t begin, int64_t end, F&& f) const;

 private:
  // The index of the non-empty piece that holds byte `at` (< size()).
  size_t PieceAt(size_t at) const;
  // Copies `length` bytes from byte `at` on, across pieces, to `out`.
  void CopyRange(size_t at, size_t length, char* out) const;

  std::vector<absl::string_view> pieces_;
  std::vector<size_t> starts_;  // Where each piece begins in the value.
  size_t size_ = 0;
};

template <typename T, typename F>
void ValuePieces::ForEachRun(int64_t begin, int64_t end, F&& f) const {
  // Elements copied per call when the bytes are unaligned: a few KB, so
  // the copy stays in the L1 cache for f to read.
  constexpr size_t kCopied = 4096 / sizeof(T);
  alignas(T) char copied[kCopied * sizeof(T)];
  size_t at = static_cast<size_t>(begin) * sizeof(T);
  const size_t stop = static_cast<size_t>(end) * sizeof(T);
  if (at >= stop) return;
  size_t piece = PieceAt(at);
  while (at < stop) {
    const absl::string_view bytes = pieces_[piece];
    const char* data = bytes.data() + (at - starts_[piece]);
    const size_t available =
        std::min(bytes.size() - (at - starts_[piece]), stop - at);
    const int64_t first = static_cast<int64_t>(at / sizeof(T));
    size_t count;
    if (available < sizeof(T)) {
      // This piece ends inside the element.
      count = 1;
      CopyRange(at, sizeof(T), copied);
      f(first, int64_t{1}, reinterpret_cast<const T*>(copied));
    } else if (reinterpret_cast<uintptr_t>(data) % alignof(T) == 0) {
      count = available / sizeof(T);
      f(first, static_cast<int64_t>(count), reinterpret_cast<const T*>(data));
    } else {
      count = std::min(available / sizeof(T), kCopied);
      std::memcpy(copied, data, count * sizeof(T));
      f(first, static_cast<int64_t>(count), reinterpret_cast<const T*>(copied));
    }
    at += count * sizeof(T);
    while (piece < pieces_.size() &&
           at >= starts_[piece] + pieces_[piece].size()) {
      ++piece;
    }
  }
}

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_VALUE_PIECES_H_
