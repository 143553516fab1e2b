#ifndef PARAM_SERVER_COMMON_ROW_LIMITS_H_
#define PARAM_SERVER_COMMON_ROW_LIMITS_H_

// What one row call (GatherRows, PushRows, LookupSparse and their
// partitioned forms) may ask of a server. The server refuses more; a client
// that splits a call over a partitioned variable's parts checks the whole
// call against the same limits first, so that no part can refuse what
// another has applied.

#include <cstddef>

namespace paramserver {

// Most ids one row call may carry.
inline constexpr size_t kMaxRowIdsPerCall = size_t{1} << 22;

// Most bytes of rows one call may read, return or spread a gradient over.
// A gather's rows are a buffer of their own until sent, outside
// max_total_bytes like gRPC's buffers, so the cap keeps what a reader can
// make the server hold per call small.
inline constexpr size_t kMaxGatherBytes = size_t{64} << 20;

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_ROW_LIMITS_H_
