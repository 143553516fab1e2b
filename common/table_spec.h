#ifndef PARAM_SERVER_COMMON_TABLE_SPEC_H_
#define PARAM_SERVER_COMMON_TABLE_SPEC_H_

// What a table without a fixed vocabulary is (server/dynamic_table.h), as a
// client asks for one and as the server keeps it on disk.

#include <cstdint>

#include "common/initializer_spec.h"
#include "common/update_spec.h"

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
};

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_TABLE_SPEC_H_
