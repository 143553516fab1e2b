#include "client/shard_placement.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/slot_names.h"

namespace paramserver {

uint64_t NameFingerprint(absl::string_view full_name) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a offset basis.
  for (unsigned char byte : full_name) {
    hash ^= byte;
    hash *= 0x100000001b3ull;  // FNV prime.
  }
  // SplitMix64's finalizer spreads FNV's weak low bits over the whole word.
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ull;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebull;
  hash ^= hash >> 31;
  return hash;
}

int JumpConsistentHash(uint64_t key, int num_buckets) {
  int64_t bucket = -1, next = 0;
  while (next < num_buckets) {
    bucket = next;
    key = key * 2862933555777941757ull + 1;
    next = static_cast<int64_t>(
        (bucket + 1) * (double(int64_t{1} << 31) / double((key >> 33) + 1)));
  }
  return static_cast<int>(bucket);
}

int ShardForName(absl::string_view full_name, int num_shards) {
  if (num_shards <= 1) return 0;
  return JumpConsistentHash(NameFingerprint(full_name), num_shards);
}

int ShardForVariable(absl::string_view full_name, int num_shards) {
  if (num_shards <= 1) return 0;
  const size_t slash = full_name.rfind('/');
  if (slash == absl::string_view::npos)
    return ShardForName(full_name, num_shards);
  const absl::string_view parent = full_name.substr(0, slash);
  const absl::string_view last = full_name.substr(slash + 1);
  for (const char* suffix : kAllSlotSuffixes) {
    if (last == suffix) return ShardForVariable(parent, num_shards);
  }
  absl::string_view digits = last;
  int partition = 0;
  if (absl::ConsumePrefix(&digits, "part_") && !digits.empty() &&
      digits.size() <= 9 &&
      std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) &&
      absl::SimpleAtoi(digits, &partition)) {
    return ShardForPartition(parent, partition, num_shards);
  }
  return ShardForName(full_name, num_shards);
}

std::vector<int64_t> PartitionRows(int64_t dim0, int num_partitions) {
  const int64_t parts =
      std::max<int64_t>(1, std::min<int64_t>(num_partitions, dim0));
  std::vector<int64_t> rows(parts, dim0 / parts);
  for (int64_t i = 0; i < dim0 % parts; ++i) ++rows[i];
  return rows;
}

std::string PartitionName(absl::string_view full_name, int partition) {
  return absl::StrCat(full_name, "/part_", partition);
}

int ShardForPartition(absl::string_view full_name, int partition,
                      int num_shards) {
  if (num_shards <= 1) return 0;
  return (ShardForName(full_name, num_shards) + partition) % num_shards;
}

}  // namespace paramserver
