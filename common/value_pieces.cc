#include "common/value_pieces.h"

#include <utility>

namespace paramserver {

ValuePieces::ValuePieces(std::vector<absl::string_view> pieces)
    : pieces_(std::move(pieces)) {
  starts_.reserve(pieces_.size());
  for (const absl::string_view piece : pieces_) {
    starts_.push_back(size_);
    size_ += piece.size();
  }
}

void ValuePieces::CopyTo(char* out) const {
  for (const absl::string_view piece : pieces_) {
    // An empty piece may have no data pointer; memcpy must not see it.
    if (piece.empty()) continue;
    std::memcpy(out, piece.data(), piece.size());
    out += piece.size();
  }
}

size_t ValuePieces::PieceAt(size_t at) const {
  // The last piece that starts at or before `at`; empty pieces share their
  // start with the next piece, so the last of those is the non-empty one.
  auto after = std::upper_bound(starts_.begin(), starts_.end(), at);
  return static_cast<size_t>(after - starts_.begin()) - 1;
}

void ValuePieces::CopyRange(size_t at, size_t length, char* out) const {
  size_t piece = PieceAt(at);
  while (length > 0) {
    const absl::string_view bytes = pieces_[piece];
    const size_t in = at - starts_[piece];
    const size_t take = std::min(bytes.size() - in, length);
    if (take > 0) std::memcpy(out, bytes.data() + in, take);
    out += take;
    at += take;
    length -= take;
    ++piece;
  }
}

}  // namespace paramserver
