#ifndef PARAM_SERVER_FUZZ_FUZZ_UTIL_H_
#define PARAM_SERVER_FUZZ_FUZZ_UTIL_H_

// What the fuzz harnesses share: the check that turns a broken invariant
// into a finding, and the small store they serve requests from.

#include <cstdlib>

#include "server/variable_store.h"

namespace paramserver {

// Aborts when `condition` is false, which libFuzzer reports as a crash (and
// the corpus tests as a failure) with the input that caused it.
inline void Check(bool condition) {
  if (!condition) std::abort();
}

// Store limits small enough that every input stays cheap: 64 KB a variable,
// 1 MB in all.
StoreOptions SmallStoreOptions();

// A store with SmallStoreOptions, created on first use and kept for the
// process: what one input leaves in it, the next finds.
VariableStore& SmallStore();

}  // namespace paramserver

#endif  // PARAM_SERVER_FUZZ_FUZZ_UTIL_H_
