#ifndef PARAM_SERVER_FUZZ_DATA_DIR_FUZZ_H_
#define PARAM_SERVER_FUZZ_DATA_DIR_FUZZ_H_

// Shared by the fuzzers that restore a server from files: a scratch data
// directory per process, and start-up from it with its invariants checked.

#include <string>

#include "server/durability/durability.h"

namespace paramserver {

// An empty directory of this process's own (the test's temporary directory
// under bazel test, else /dev/shm when it exists, so that the fsyncs of
// start-up cost nothing), emptied on every call.
std::string FreshDataDir();

// Starts a store from options.data_dir as the server does. Any crash or
// sanitizer report is a bug; so is an error other than DATA_LOSS (the
// answer for damaged files) or RESOURCE_EXHAUSTED (a value over the small
// store's limits). When start-up succeeds, a checkpoint is taken and
// start-up repeated on a fresh store: it must succeed with the same
// variables (replay after a trimmed tail or skipped damage converges).
void StartAndRestart(DurabilityOptions options);

}  // namespace paramserver

#endif  // PARAM_SERVER_FUZZ_DATA_DIR_FUZZ_H_
