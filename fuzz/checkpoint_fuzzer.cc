// libFuzzer target: checkpoint loading from arbitrary index and data files,
// as a server starts from its data directory (the newest checkpoint that
// verifies, its variables installed into the store). A crash, a hang or any
// answer but a precise DATA_LOSS (or RESOURCE_EXHAUSTED for values over the
// store's limits) is a bug; see data_dir_fuzz.h for the restart check.
//
// Input: a flags byte (bit 0: ignore_corrupt_checkpoints; bit 1: framed),
// then checkpoints separated by "<CKPT>", each "INDEX<DATA>DATA", written as
// ckpt-1, ckpt-2, ... Raw, the files are written as they are. Framed, the
// harness makes the checksums and sizes agree (the index's sequence and
// data size, each entry's value CRC where its extent lies in the data, and
// the index's trailing CRC, appended), so that the fuzzer reaches the
// checks behind them.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fuzz/data_dir_fuzz.h"
#include "server/durability/checkpoint.h"
#include "server/durability/coding.h"
#include "server/durability/crc32c.h"
#include "server/durability/env.h"

namespace paramserver {
namespace {

// Little-endian `value` over the 8 bytes at `at`, when they exist.
void Overwrite64(std::string* bytes, size_t at, uint64_t value) {
  std::string encoded;
  PutFixed64(&encoded, value);
  if (at + 8 <= bytes->size()) bytes->replace(at, 8, encoded);
}

// Sets each entry's CRC to its extent's, reading the index as checkpoint.h
// describes it, as far as it goes.
void FixValueCrcs(std::string* index, absl::string_view data) {
  constexpr size_t kHeader = 8 + 4 + 8 + 8 + 8;
  if (index->size() < kHeader) return;
  ByteReader reader(absl::string_view(*index).substr(kHeader));
  while (true) {
    absl::string_view name, skipped;
    uint32_t dtype, rank;
    if (!reader.ReadLengthPrefixed(&name) || !reader.ReadFixed32(&dtype) ||
        !reader.ReadFixed32(&rank) || rank > 64 ||
        !reader.ReadBytes(8 * rank + 1 + 8, &skipped)) {
      return;
    }
    uint64_t offset, length;
    if (!reader.ReadFixed64(&offset) || !reader.ReadFixed64(&length)) return;
    const size_t crc_at = index->size() - reader.remaining();
    uint32_t ignored;
    if (!reader.ReadFixed32(&ignored)) return;
    if (offset > data.size() || length > data.size() - offset) continue;
    std::string crc;
    PutFixed32(&crc, Crc32c(data.substr(offset, length)));
    index->replace(crc_at, 4, crc);
  }
}

std::string Index(absl::string_view input, absl::string_view data,
                  int64_t sequence, bool framed) {
  std::string index(input);
  if (!framed) return index;
  Overwrite64(&index, 12, static_cast<uint64_t>(sequence));
  Overwrite64(&index, 20, data.size());
  FixValueCrcs(&index, data);
  PutFixed32(&index, Crc32c(index));
  return index;
}

// Writes each checkpoint of `input` as ckpt-1, ckpt-2, ...
absl::Status WriteCheckpoints(const std::string& data_dir,
                              absl::string_view input, bool framed) {
  const std::string root = JoinPath(data_dir, "checkpoints");
  int64_t sequence = 0;
  for (absl::string_view checkpoint : absl::StrSplit(input, "<CKPT>")) {
    const std::vector<absl::string_view> files =
        absl::StrSplit(checkpoint, absl::MaxSplits("<DATA>", 1));
    const absl::string_view values = files.size() > 1 ? files[1] : "";
    const std::string dir = JoinPath(root, CheckpointDirName(++sequence));
    absl::Status s = CreateDirectories(dir);
    if (s.ok()) {
      s = WriteFileAtomically(dir, "index",
                              Index(files[0], values, sequence, framed));
    }
    if (s.ok()) s = WriteFileAtomically(dir, "data", std::string(values));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace paramserver

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paramserver;
  FuzzDataDir(data, size, &DurabilityOptions::ignore_corrupt_checkpoints,
              WriteCheckpoints);
  return 0;
}
