#ifndef PARAM_SERVER_COMMON_MIX64_H_
#define PARAM_SERVER_COMMON_MIX64_H_

#include <cstdint>

namespace paramserver {

// SplitMix64's finalizer (Steele, Lea & Flood, 2014): a bijection on 64-bit
// words in which every input bit reaches every output bit. Seeded values
// (initializers, dynamic tables' rows) depend on it: changing it changes
// them.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_MIX64_H_
