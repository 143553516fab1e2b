#ifndef PARAM_SERVER_CLIENT_VALUE_SINK_H_
#define PARAM_SERVER_CLIENT_VALUE_SINK_H_

// Where the bytes of one pulled value go as they come off the wire: a string
// the client fills (Pull), or memory the caller owns and reuses step after
// step (PullInto), so that a steady-state pull allocates nothing and faults
// no fresh page in.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/variable_spec.h"
#include "wire/zero_copy_reader.h"

namespace paramserver {

// The bytes a value of `info` has. DATA_LOSS when the server described a
// value no machine could hold (its size would not fit in 63 bits).
absl::StatusOr<size_t> ValueBytes(const VariableInfo& info);

class ValueSink {
 public:
  // Into `*value`, which Begin clears; chunks are appended (no zero-filling
  // first) and may also come out of order.
  static ValueSink IntoString(std::string* value) { return ValueSink(value); }
  // Into `buffer`, which must have exactly the value's size; chunks must
  // come in order (the server sends them so), which is how the sink knows
  // the buffer was filled whole.
  static ValueSink IntoBuffer(absl::Span<char> buffer) {
    return ValueSink(buffer);
  }

  // The value's description, before any of its bytes. INVALID_ARGUMENT when
  // the caller's buffer does not have the value's size (nothing is written),
  // DATA_LOSS for a size no machine could hold.
  absl::Status Begin(const VariableInfo& info);
  // Begin's checks alone, for a value that will not come (unchanged): the
  // sink is left as it was.
  absl::Status Check(const VariableInfo& info) const;
  // Bytes [offset, offset + data.length) of the value. DATA_LOSS when they
  // lie outside it, or (into a buffer) are not the next bytes.
  absl::Status Place(const WireReader& reader, const WireSpan& data,
                     int64_t offset);
  // The value's size (from Begin) and how much of it has come.
  size_t size() const { return size_; }
  size_t received() const { return received_; }

 private:
  // The value's size, after Check's checks.
  absl::StatusOr<size_t> CheckedSize(const VariableInfo& info) const;

  explicit ValueSink(std::string* value) : value_(value) {}
  explicit ValueSink(absl::Span<char> buffer)
      : buffer_(buffer), into_buffer_(true) {}

  std::string* value_ = nullptr;
  absl::Span<char> buffer_;
  bool into_buffer_ = false;
  size_t size_ = 0;
  size_t received_ = 0;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_VALUE_SINK_H_
