#ifndef PARAM_SERVER_SERVER_TABLE_CHANGE_H_
#define PARAM_SERVER_SERVER_TABLE_CHANGE_H_

// One change to a dynamic table (server/dynamic_table.h) as the change log
// records it (server/change_log.h); its own header so that both can use it.

#include <cstdint>

#include "absl/types/span.h"

namespace paramserver {

// What one call changed in a dynamic table, as its change log records it
// (views, valid during TableChangeLog::Append). Replaying the records in
// order over a snapshot (DynamicTable::Replay) gives a state the table was
// in: written entries are whole (row and slots), not deltas.
//
// Not recorded: a lookup's admissions (an admitted row holds its initial
// value, which a lookup after a restart returns and stores again once the
// id is seen enough). Last-use times that only lookups moved are recorded
// by the sweep after them (touched_ids).
struct TableChange {
  int64_t time_micros = 0;  // The written rows' last use.
  // The table's gradient steps after the change; 0: unchanged.
  int64_t steps = 0;
  absl::Span<const int64_t> written_ids;  // Each once.
  // written_ids.size() entries of entry_floats() floats: row, then slots.
  absl::Span<const float> written_entries;
  // Empty, or each written row's own last use (LogRows), overriding
  // time_micros.
  absl::Span<const int64_t> written_last_use;
  absl::Span<const int64_t> evicted_ids;
  // Rows whose last use only lookups moved, and that last use; replay moves
  // those that are stored to their place in the recency list.
  absl::Span<const int64_t> touched_ids;
  absl::Span<const int64_t> touched_last_use;
  // An optimizer step (ApplyGradient) or last uses, which a log that keeps
  // only checkpoints may skip (the next checkpoint's dump holds both);
  // writes, evictions and dumps are never skipped.
  bool gradient = false;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_TABLE_CHANGE_H_
