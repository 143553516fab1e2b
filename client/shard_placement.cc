#include "client/shard_placement.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

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
    next = static_cast<int64_t>((bucket + 1) *
                                (double(int64_t{1} << 31) /
                                 double((key >> 33) + 1)));
  }
  return static_cast<int>(bucket);
}

int ShardForName(absl::string_view full_name, int num_shards) {
  if (num_shards <= 1) return 0;
  return JumpConsistentHash(NameFingerprint(full_name), num_shards);
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
