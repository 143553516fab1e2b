#ifndef PARAM_SERVER_COMMON_TABLE_SPEC_H_
#define PARAM_SERVER_COMMON_TABLE_SPEC_H_

// What a table without a fixed vocabulary is (server/dynamic_table.h), as a
// client asks for one and as the server keeps it on disk.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/initializer_spec.h"
#include "common/mix64.h"
#include "common/update_spec.h"
#include "common/variable_spec.h"

namespace paramserver {

struct TableSpec {
  int64_t width = 0;  // float32 elements per row.
  // Runs per row on shape [width] (or full_shape's fans, if set), seeded by
  // (seed, id); the seed is required.
  InitializerSpec initializer;
  // The optimizer whose slots every row keeps beside it (not Adam).
  OptimizerKind optimizer = OptimizerKind::kSgd;
  double initial_accumulator_value = 0.1;  // kAdagrad, kFtrl.
  // Sightings before a missing id is stored: 1 .. 255.
  uint32_t admit_after = 1;
  int64_t capacity = 0;  // Most rows stored; 0: no limit.
  bool evict_when_full = true;
  int64_t ttl_micros = 0;  // Rows idle this long are evicted; 0: never.
  // A table spread over several servers by id (ShardedClient): this part
  // holds the ids whose IdShardOf(id, id_shard_count) is id_shard_index,
  // and refuses the others. 1: the whole table.
  int32_t id_shard_index = 0;
  int32_t id_shard_count = 1;
};

// How a gather reads a dynamic table's rows.
enum class TableRead {
  // A lookup: counts sightings, stores admitted ids, moves last use.
  kLookup,
  // The rows as a lookup would return them (stored, or initial), changing
  // nothing: for inspection (psctl rows) and tests.
  kPeek,
};

// Most servers one table is spread over.
constexpr int32_t kMaxIdShards = 4096;

// Which of `count` id shards holds `id`: the high half of Mix64(id), since
// a table's stripes (server/dynamic_table.h) take the low bits, so every
// shard uses all its stripes.
inline int32_t IdShardOf(int64_t id, int32_t count) {
  return static_cast<int32_t>((Mix64(static_cast<uint64_t>(id)) >> 32) %
                              static_cast<uint64_t>(count));
}

// A dynamic table by full name, as get_variable asks for a variable:
// kCreate, kReuse or kAutoReuse.
struct TableRequest {
  std::string name;  // Full name.
  ReuseMode reuse = ReuseMode::kCreate;
  // An unseeded initializer gets a random seed when the table is made (kept
  // with it, so restarts give new ids the same rows); when reusing, an
  // unseeded request matches the table's seed.
  TableSpec spec;
};

// What a table has done since it was made (or since the server started).
struct TableCounters {
  int64_t stored_rows = 0;
  int64_t admitted = 0;          // Rows stored.
  int64_t evicted_idle = 0;      // By TTL.
  int64_t evicted_capacity = 0;  // To make room.
  int64_t lookup_ids = 0;
  int64_t lookup_hits = 0;            // Ids found stored.
  int64_t dropped_gradient_rows = 0;  // For ids not stored.
  int64_t steps = 0;                  // Gradient pushes applied.
  // Bytes the table holds: rows and slots, ids, last-use times, the index
  // and the admission sketch.
  size_t bytes = 0;
};

// A table as the server describes it (GetTable, GetTableStats).
struct TableStatus {
  std::string name;  // Full name.
  TableSpec spec;    // Seeded.
  bool created = false;
  TableCounters counters;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_TABLE_SPEC_H_
