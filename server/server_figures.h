#ifndef PARAM_SERVER_SERVER_SERVER_FIGURES_H_
#define PARAM_SERVER_SERVER_SERVER_FIGURES_H_
// One reading of a serving ps_server's figures, rendered two ways: in
// Prometheus' text format (/metrics) and as JSON (/api/stats, which `psctl
// stats` prints). Both come from the same reading, so they always agree.
// Plain C++; the RPC figures are rendered by server/rpc_metrics.h.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/json_writer.h"
#include "server/durability/durability.h"
#include "server/metrics.h"
#include "server/variable_store.h"

namespace paramserver {

struct StoreFigures {
  int64_t variables = 0;  // Slots included.
  uint64_t bytes = 0;
  uint64_t max_total_bytes = 0;
  // Per top-level scope (the name's first component): variables, bytes.
  // Writers choose the names: past kMaxLabels scopes the rest are summed
  // under "(other)".
  std::map<std::string, std::pair<int64_t, uint64_t>> scopes;
  uint64_t optimizer_steps[StoreCounters::kOptimizers] = {};
  uint64_t stale_rejections = 0;
  // At most kMaxLabels tables; `tables_left_out` counts the rest.
  std::vector<TableInfo> tables;
  size_t tables_left_out = 0;
};

struct DurabilityFigures {
  WriteAheadLog::Stats log;
  Histogram::Snapshot fsync;
  std::vector<double> fsync_bounds;
  Durability::CheckpointStats checkpoints;
};

// Label values a writer can choose (scopes, tables) are bounded by this.
inline constexpr size_t kMaxLabels = 100;

StoreFigures ReadStoreFigures(VariableStore& store);
DurabilityFigures ReadDurabilityFigures(const Durability& durability);

void AppendStorePrometheus(const StoreFigures& figures, PrometheusText& text);
void AppendDurabilityPrometheus(const DurabilityFigures& figures,
                                PrometheusText& text);
// As JSON object members ("store": {...}, ...), inside an open object.
void AppendStoreJson(const StoreFigures& figures, JsonWriter& json);
void AppendDurabilityJson(const DurabilityFigures& figures, JsonWriter& json);

// Seconds since the Unix epoch.
double UnixSeconds(absl::Time time);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_SERVER_FIGURES_H_
