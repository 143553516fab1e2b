#ifndef PARAM_SERVER_SERVER_DURABILITY_TABLE_CODEC_H_
#define PARAM_SERVER_SERVER_DURABILITY_TABLE_CODEC_H_

// Dynamic tables (server/dynamic_table.h) on disk: a table's spec, and one
// recorded change, as the write-ahead log and checkpoints will hold them.
// Little-endian, names and byte strings as u32 length + bytes
// (coding.h):
//
//   spec    u32 version (1), i64 width, initializer, u32 optimizer,
//           f64 initial_accumulator_value, u32 admit_after, i64 capacity,
//           u8 evict_when_full, i64 ttl_micros
//   initializer
//           u32 kind, u32 n, n x number, u8 has value_shape [shape],
//           optional number minval, maxval, optional f64 mean, stddev,
//           scale, u32 mode, u32 distribution, optional i64 seed,
//           u8 has full_shape [shape]
//   number  u8 is_integer, then i64 or f64
//   shape   u32 rank, rank x i64
//   optional X: u8 present, then X when present
//   change  i64 time_micros, i64 steps, u64 n, n x i64 written ids,
//           u64 floats per entry, n x entry floats (f32), u8 has last-use
//           times [n x i64], u64 m, m x i64 evicted ids
//
// Decoding checks every length against what remains and every enum against
// its range, so damaged bytes give an error, never a crash or a huge
// allocation; what the values mean (a seeded initializer, a width in range)
// is checked where the table is made (DynamicTable::Create).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/table_spec.h"
#include "server/durability/coding.h"
#include "server/table_change.h"

namespace paramserver {

void EncodeTableSpec(const TableSpec& spec, std::string* out);
// DATA_LOSS naming what could not be read.
absl::Status DecodeTableSpec(ByteReader* reader, TableSpec* spec);

// A decoded TableChange (server/table_change.h), owning its arrays; View()
// is the TableChange over them.
struct DecodedTableChange {
  int64_t time_micros = 0;
  int64_t steps = 0;
  std::vector<int64_t> written_ids;
  int64_t entry_floats = 0;
  std::vector<float> written_entries;
  std::vector<int64_t> written_last_use;  // Empty, or one per written id.
  std::vector<int64_t> evicted_ids;
  std::vector<int64_t> touched_ids;
  std::vector<int64_t> touched_last_use;  // One per touched id.

  TableChange View() const {
    TableChange change;
    change.time_micros = time_micros;
    change.steps = steps;
    change.written_ids = written_ids;
    change.written_entries = written_entries;
    change.written_last_use = written_last_use;
    change.evicted_ids = evicted_ids;
    change.touched_ids = touched_ids;
    change.touched_last_use = touched_last_use;
    return change;
  }
};

// `entry_floats` is the table's floats per entry.
void EncodeTableChange(const TableChange& change, int64_t entry_floats,
                       std::string* out);
absl::Status DecodeTableChange(ByteReader* reader, DecodedTableChange* change);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_TABLE_CODEC_H_
