#ifndef PARAM_SERVER_SERVER_DURABILITY_CHECKPOINT_H_
#define PARAM_SERVER_SERVER_DURABILITY_CHECKPOINT_H_

// Checkpoints of the variable store, after TensorFlow's tensor bundles: a
// `data` file of raw values and an `index` naming them, keyed by full
// variable name (so a checkpoint restores into any store holding the same
// names, whatever its memory layout).
//
// On disk, under a root directory, checkpoint N is the directory
// `ckpt-<N as 20 decimal digits>` holding:
//   data   Each value's raw bytes (host order, i.e. little-endian), each
//          starting at a multiple of 64 bytes; zero padding between values.
//   index  All integers little-endian:
//            magic "PSCKPT\r\n" (8 bytes), u32 format version (1),
//            u64 sequence, u64 data file size, u64 entry count, then per
//            entry, sorted by name:
//              u32 name length, name bytes, u32 dtype (TensorFlow's number),
//              u32 rank, rank x i64 dims, u8 flags (1 = trainable,
//              2 = slot), i64 version, u64 offset, u64 length,
//              u32 CRC-32C of the value's bytes;
//            and last, u32 CRC-32C of every index byte before it.
// Writing: data (fsync), index (fsync) into `ckpt-N.tmp`, fsync of that
// directory, rename to `ckpt-N`, fsync of the root. A crash at any point
// leaves either no ckpt-N or a complete one; stale `.tmp` directories are
// removed by the next WriteCheckpoint.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/variable_spec.h"
#include "server/tensor_buffer.h"

namespace paramserver {

struct CheckpointEntry {
  VariableInfo info;  // Full name, dtype, shape, version, trainable.
  bool is_slot = false;
  std::shared_ptr<const TensorBuffer> value;
};

// Writes checkpoint `sequence` (> 0) of `entries` under `root` (created if
// missing) and removes stale temporaries of interrupted writes. Values are
// streamed from their buffers, never concatenated. INVALID_ARGUMENT for a bad
// sequence, a duplicate or empty name, a bad dtype or shape, or a value whose
// size does not match; ALREADY_EXISTS if ckpt-<sequence> exists;
// RESOURCE_EXHAUSTED when the disk is full; other I/O errors as in file_util.h.
// On any error nothing becomes visible and the existing checkpoints are
// untouched. Not safe to call concurrently for the same root.
absl::Status WriteCheckpoint(const std::string& root, int64_t sequence,
                             absl::Span<const CheckpointEntry> entries);

// Removes the `ckpt-N.tmp` directories that interrupted or failed writes
// left under `root` (a missing root is not an error). The server calls it at
// start-up, so that a failed checkpoint's space is not held until the next
// one succeeds.
absl::Status RemoveCheckpointTemporaries(const std::string& root);

// Removes all but the newest `keep_last` (>= 1) complete checkpoints and
// returns the sequences kept, ascending. Keeping more than one lets restore
// fall back when the newest is damaged; the write-ahead log must then be kept
// from the oldest kept sequence on (WriteAheadLog::RemoveSegmentsBefore).
absl::StatusOr<std::vector<int64_t>> PruneCheckpoints(const std::string& root,
                                                      int keep_last);

struct RestoredVariable {
  VariableInfo info;
  bool is_slot = false;
  std::shared_ptr<TensorBuffer> value;  // Freshly read; the caller owns it.
};

struct LoadedCheckpoint {
  int64_t sequence = 0;
  std::string path;
  std::vector<RestoredVariable> variables;  // Sorted by name.
  // One line per newer checkpoint that was rejected, with the reason
  // ("ckpt-...07/data: CRC mismatch for variable w at offset 128"), for the
  // server to log.
  std::vector<std::string> rejected;
};

// Loads the newest checkpoint under `root` whose index and data verify:
// magic, version, CRCs, sizes, offsets, dtypes, shapes. A damaged one is
// skipped (and noted in `rejected`) in favour of the one before; an I/O or
// memory error is returned as is, since it says nothing about the data (EIO
// is UNAVAILABLE, see file_util.h). NOT_FOUND
// when `root` holds no checkpoint (a fresh server); DATA_LOSS, listing every
// reason, when checkpoints exist but none verifies.
absl::StatusOr<LoadedCheckpoint> ReadLatestCheckpoint(const std::string& root);

// Loads and verifies exactly checkpoint `sequence`; DATA_LOSS with the
// reason when it does not verify, NOT_FOUND when it does not exist.
absl::StatusOr<LoadedCheckpoint> ReadCheckpoint(const std::string& root,
                                                int64_t sequence);

// Sequences of the complete checkpoints under `root`, ascending (empty when
// root is missing). Their contents are not verified.
absl::StatusOr<std::vector<int64_t>> ListCheckpoints(const std::string& root);

// "ckpt-00000000000000000042".
std::string CheckpointDirName(int64_t sequence);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_CHECKPOINT_H_
