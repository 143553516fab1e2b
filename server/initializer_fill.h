#ifndef PARAM_SERVER_SERVER_INITIALIZER_FILL_H_
#define PARAM_SERVER_SERVER_INITIALIZER_FILL_H_

// The element-writing half of the initializers (initializer.cc resolves and
// validates specs): deterministic random streams, the samplers, and the
// multithreaded fill. Internal to //server:initializer.

#include <cstdint>

#include "common/dtype.h"
#include "common/number.h"
#include "server/initializer.h"

namespace paramserver {

// truncated_normal re-draws samples this many stddevs or more from the mean.
inline constexpr double kTruncationBound = 2.0;

// What to write, resolved from the spec: every initializer reduces to one of
// these, so the typed fill code sees five cases instead of ten.
enum class FillOp { kValue, kCopyValues, kUniform, kNormal, kTruncatedNormal };

struct FillPlan {
  FillOp op = FillOp::kValue;
  Number value;  // kValue.
  Number lo;     // kUniform: [lo, hi).
  Number hi;
  double mean = 0;  // kNormal, kTruncatedNormal.
  double stddev = 0;
};

// Writes `count` elements of `dtype` to `out` as `plan` says: kCopyValues
// copies spec.values and repeats the last one to the end; random plans draw
// from the stream spec.seed selects (fresh entropy without a seed).
void FillElements(const FillPlan& plan, const InitializerSpec& spec,
                  DType dtype, int64_t count, char* out);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_INITIALIZER_FILL_H_
