// libFuzzer target: write-ahead-log replay from arbitrary segment files, as
// a server starts from its data directory (replay, then applying each record
// to the store). A crash, a hang or any answer but a precise DATA_LOSS (or
// RESOURCE_EXHAUSTED for values over the store's limits) is a bug; see
// data_dir_fuzz.h for the restart check.
//
// Input: a flags byte (bit 0: skip_wal_corruption; bit 1: framed), then
// segments separated by "<SEG>", written as wal-0.log, wal-1.log, ... Raw,
// a segment's bytes are written as they are. Framed, a segment is records
// separated by "<REC>", each a type byte and its payload, framed with valid
// lengths and CRCs (so that the fuzzer reaches the payload decoders); a
// type byte with the high bit set writes the rest unframed (torn tails,
// damage between good records).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fuzz/data_dir_fuzz.h"
#include "server/durability/coding.h"
#include "server/durability/crc32c.h"
#include "server/durability/env.h"
#include "server/durability/log_reader.h"
#include "server/durability/log_writer.h"

namespace paramserver {
namespace {

// One record as WriteAheadLog writes it: u64 payload length, u32 CRC of
// (type, payload), u8 type, u32 CRC of those 13 bytes, payload.
std::string Frame(char type, absl::string_view payload) {
  std::string record;
  PutFixed64(&record, payload.size());
  PutFixed32(&record, Crc32cExtend(Crc32cExtend(0, &type, 1), payload.data(),
                                   payload.size()));
  record.push_back(type);
  PutFixed32(&record, Crc32c(record));
  record.append(payload.data(), payload.size());
  return record;
}

std::string Segment(absl::string_view input, bool framed) {
  if (!framed) return std::string(input);
  std::string segment;
  for (absl::string_view record : absl::StrSplit(input, "<REC>")) {
    if (record.empty()) continue;
    if ((record[0] & 0x80) != 0) {
      segment.append(record.data() + 1, record.size() - 1);
    } else {
      segment += Frame(record[0], record.substr(1));
    }
  }
  return segment;
}

// Writes each segment of `input` as wal-0.log, wal-1.log, ...
absl::Status WriteSegments(const std::string& data_dir, absl::string_view input,
                           bool framed) {
  const std::string wal = JoinPath(data_dir, "wal");
  if (absl::Status s = CreateDirectories(wal); !s.ok()) return s;
  int64_t sequence = 0;
  for (absl::string_view segment : absl::StrSplit(input, "<SEG>")) {
    absl::Status s = WriteFileAtomically(wal, WalSegmentName(sequence++),
                                         Segment(segment, framed));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace paramserver

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paramserver;
  FuzzDataDir(data, size, &DurabilityOptions::skip_wal_corruption,
              WriteSegments);
  return 0;
}
