#ifndef PARAM_SERVER_FUZZ_DATA_DIR_FUZZ_H_
#define PARAM_SERVER_FUZZ_DATA_DIR_FUZZ_H_

// Shared by the fuzzers that restore a server from files: their input's
// layout, a scratch data directory per process, and start-up from it with
// its invariants checked.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
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

// Writes the files of a data directory from `files`, the input after its
// flags byte; `framed` says whether the harness should make lengths and
// checksums agree.
using WriteDataDirFiles = absl::FunctionRef<absl::Status(
    const std::string& data_dir, absl::string_view files, bool framed)>;

// Runs one input of such a fuzzer: a flags byte (bit 0 turns on the start-up
// option `lenient` names, bit 1 is `framed`), then the files, which `write`
// puts in a FreshDataDir; then StartAndRestart. An empty input does nothing;
// a failure to write aborts (the harness's fault, not the input's).
void FuzzDataDir(const uint8_t* data, size_t size,
                 bool DurabilityOptions::*lenient, WriteDataDirFiles write);

}  // namespace paramserver

#endif  // PARAM_SERVER_FUZZ_DATA_DIR_FUZZ_H_
