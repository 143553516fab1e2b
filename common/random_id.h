#ifndef PARAM_SERVER_COMMON_RANDOM_ID_H_
#define PARAM_SERVER_COMMON_RANDOM_ID_H_

// Random ids (push ids, incarnations, cluster ids): 128 random bits as 32
// hex digits.

#include <cstdint>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace paramserver {

inline std::string NewRandomId() {
  // Seeded from the OS per thread: ids from different processes and threads
  // do not collide (2^-64 for 2^32 ids).
  thread_local absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                         absl::Uniform<uint64_t>(gen));
}

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_RANDOM_ID_H_
