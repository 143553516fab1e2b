#include "server/server_figures.h"

#include "absl/strings/str_cat.h"
#include "common/tensor_shape.h"

namespace paramserver {
namespace {

constexpr OptimizerKind kOptimizers[] = {
    OptimizerKind::kSgd,  OptimizerKind::kMomentum, OptimizerKind::kAdagrad,
    OptimizerKind::kAdam, OptimizerKind::kFtrl,     OptimizerKind::kLazyAdam};

}  // namespace

double UnixSeconds(absl::Time time) {
  return absl::ToDoubleSeconds(time - absl::UnixEpoch());
}

StoreFigures ReadStoreFigures(VariableStore& store) {
  StoreFigures figures;
  figures.variables = static_cast<int64_t>(store.num_variables());
  figures.bytes = store.total_bytes();
  figures.max_total_bytes = store.max_total_bytes();
  if (absl::StatusOr<std::vector<VariableInfo>> all = store.ListVariables("");
      all.ok()) {
    for (const VariableInfo& info : *all) {
      std::string scope = info.name.substr(0, info.name.find('/'));
      if (figures.scopes.size() >= kMaxLabels && !figures.scopes.count(scope)) {
        scope = "(other)";
      }
      absl::StatusOr<uint64_t> bytes = ValueByteSize(info.shape, info.dtype);
      auto& [count, total] = figures.scopes[scope];
      ++count;
      total += bytes.ok() ? *bytes : 0;
    }
  }
  for (OptimizerKind kind : kOptimizers) {
    figures.optimizer_steps[static_cast<int>(kind)] =
        store.counters().optimizer_steps(kind);
  }
  figures.stale_rejections = store.counters().stale_rejections();
  figures.tables = store.DescribeTables();
  if (figures.tables.size() > kMaxLabels) {
    figures.tables_left_out = figures.tables.size() - kMaxLabels;
    figures.tables.resize(kMaxLabels);
  }
  return figures;
}

DurabilityFigures ReadDurabilityFigures(const Durability& durability) {
  DurabilityFigures figures;
  figures.log = durability.log().stats();
  figures.fsync = durability.log().sync_seconds().Read();
  figures.fsync_bounds = durability.log().sync_seconds().upper_bounds();
  figures.checkpoints = durability.checkpoint_stats();
  return figures;
}

void AppendStorePrometheus(const StoreFigures& figures, PrometheusText& text) {
  text.Family("ps_variables", "gauge", "Variables held (slots included).");
  text.Sample("ps_variables", {}, static_cast<double>(figures.variables));
  text.Family("ps_variable_bytes", "gauge",
              "Bytes of variable values held, as counted against "
              "--max_total_bytes.");
  text.Sample("ps_variable_bytes", {}, static_cast<double>(figures.bytes));
  text.Family("ps_max_total_bytes", "gauge", "The --max_total_bytes limit.");
  text.Sample("ps_max_total_bytes", {},
              static_cast<double>(figures.max_total_bytes));
  text.Family("ps_scope_variables", "gauge",
              "Variables held under each top-level scope.");
  for (const auto& [scope, counts] : figures.scopes) {
    text.Sample("ps_scope_variables", {{"scope", scope}},
                static_cast<double>(counts.first));
  }
  text.Family("ps_scope_variable_bytes", "gauge",
              "Bytes of variable values under each top-level scope.");
  for (const auto& [scope, counts] : figures.scopes) {
    text.Sample("ps_scope_variable_bytes", {{"scope", scope}},
                static_cast<double>(counts.second));
  }
  text.Family("ps_optimizer_steps_total", "counter",
              "Gradient updates the server's optimizers applied to "
              "variables: one per dense variable of a push, one per sparse "
              "push of a variable's rows (tables: ps_table_steps_total).");
  for (OptimizerKind kind : kOptimizers) {
    text.Sample(
        "ps_optimizer_steps_total", {{"optimizer", OptimizerLabel(kind)}},
        static_cast<double>(figures.optimizer_steps[static_cast<int>(kind)]));
  }
  text.Family("ps_stale_pushes_rejected_total", "counter",
              "Pushes refused because a variable had moved more than "
              "max_staleness versions past the pusher's base version.");
  text.Sample("ps_stale_pushes_rejected_total", {},
              static_cast<double>(figures.stale_rejections));
  text.Family("ps_tables", "gauge", "Dynamic embedding tables held.");
  text.Sample(
      "ps_tables", {},
      static_cast<double>(figures.tables.size() + figures.tables_left_out));
  if (figures.tables.empty()) return;
  text.Family("ps_table_rows", "gauge", "Rows stored in each dynamic table.");
  for (const TableInfo& table : figures.tables) {
    text.Sample("ps_table_rows", {{"table", table.name}},
                static_cast<double>(table.stats.stored_rows));
  }
  text.Family("ps_table_bytes", "gauge",
              "Bytes each dynamic table holds (rows, slots, index).");
  for (const TableInfo& table : figures.tables) {
    text.Sample("ps_table_bytes", {{"table", table.name}},
                static_cast<double>(table.stats.bytes));
  }
  text.Family("ps_table_admitted_total", "counter",
              "Rows admitted into each dynamic table.");
  for (const TableInfo& table : figures.tables) {
    text.Sample("ps_table_admitted_total", {{"table", table.name}},
                static_cast<double>(table.stats.admitted));
  }
  text.Family("ps_table_evicted_total", "counter",
              "Rows evicted from each dynamic table, by reason: idle past "
              "the TTL, or to make room at capacity.");
  for (const TableInfo& table : figures.tables) {
    text.Sample("ps_table_evicted_total",
                {{"table", table.name}, {"reason", "idle"}},
                static_cast<double>(table.stats.evicted_idle));
    text.Sample("ps_table_evicted_total",
                {{"table", table.name}, {"reason", "capacity"}},
                static_cast<double>(table.stats.evicted_capacity));
  }
  text.Family("ps_table_steps_total", "counter",
              "Gradient pushes applied to each dynamic table.");
  for (const TableInfo& table : figures.tables) {
    text.Sample("ps_table_steps_total", {{"table", table.name}},
                static_cast<double>(table.stats.steps));
  }
  text.Family("ps_table_lookup_ids_total", "counter",
              "Ids looked up in each dynamic table, and those found stored.");
  for (const TableInfo& table : figures.tables) {
    text.Sample("ps_table_lookup_ids_total",
                {{"table", table.name}, {"result", "hit"}},
                static_cast<double>(table.stats.lookup_hits));
    text.Sample(
        "ps_table_lookup_ids_total",
        {{"table", table.name}, {"result", "miss"}},
        static_cast<double>(table.stats.lookup_ids - table.stats.lookup_hits));
  }
}

void AppendDurabilityPrometheus(const DurabilityFigures& figures,
                                PrometheusText& text) {
  text.Family("ps_wal_records_total", "counter",
              "Records appended to the write-ahead log since start.");
  text.Sample("ps_wal_records_total", {},
              static_cast<double>(figures.log.records));
  text.Family("ps_wal_bytes_total", "counter",
              "Bytes appended to the write-ahead log since start.");
  text.Sample("ps_wal_bytes_total", {}, static_cast<double>(figures.log.bytes));
  text.Family("ps_wal_fsync_seconds", "histogram",
              "Time each fsync of the write-ahead log took.");
  text.HistogramSamples("ps_wal_fsync_seconds", {}, figures.fsync_bounds,
                        figures.fsync);
  const Durability::CheckpointStats& checkpoints = figures.checkpoints;
  text.Family("ps_checkpoints_total", "counter",
              "Checkpoints written since start, by result.");
  text.Sample("ps_checkpoints_total", {{"result", "ok"}},
              static_cast<double>(checkpoints.written));
  text.Sample("ps_checkpoints_total", {{"result", "failed"}},
              static_cast<double>(checkpoints.failed));
  if (checkpoints.written == 0) return;
  text.Family("ps_checkpoint_last_duration_seconds", "gauge",
              "How long the newest checkpoint took to write.");
  text.Sample("ps_checkpoint_last_duration_seconds", {},
              checkpoints.last_seconds);
  text.Family("ps_checkpoint_last_value_bytes", "gauge",
              "Bytes of variable values in the newest checkpoint.");
  text.Sample("ps_checkpoint_last_value_bytes", {},
              static_cast<double>(checkpoints.last_value_bytes));
  text.Family("ps_checkpoint_last_timestamp_seconds", "gauge",
              "When the newest checkpoint was written, since the Unix "
              "epoch (its age: time() - this).");
  text.Sample("ps_checkpoint_last_timestamp_seconds", {},
              UnixSeconds(checkpoints.last_time));
}

void AppendStoreJson(const StoreFigures& figures, JsonWriter& json) {
  json.Key("store")
      .BeginObject()
      .Key("variables")
      .Int(figures.variables)
      .Key("bytes")
      .Uint(figures.bytes)
      .Key("max_total_bytes")
      .Uint(figures.max_total_bytes)
      .Key("scopes")
      .BeginObject();
  for (const auto& [scope, counts] : figures.scopes) {
    json.Key(scope)
        .BeginObject()
        .Key("variables")
        .Int(counts.first)
        .Key("bytes")
        .Uint(counts.second)
        .EndObject();
  }
  json.EndObject().Key("optimizer_steps").BeginObject();
  for (OptimizerKind kind : kOptimizers) {
    json.Key(OptimizerLabel(kind))
        .Uint(figures.optimizer_steps[static_cast<int>(kind)]);
  }
  json.EndObject()
      .Key("stale_pushes_rejected")
      .Uint(figures.stale_rejections)
      .EndObject();
  json.Key("tables").BeginArray();
  for (const TableInfo& table : figures.tables) {
    json.BeginObject()
        .Key("name")
        .String(table.name)
        .Key("rows")
        .Int(table.stats.stored_rows)
        .Key("bytes")
        .Uint(table.stats.bytes)
        .Key("admitted")
        .Int(table.stats.admitted)
        .Key("evicted_idle")
        .Int(table.stats.evicted_idle)
        .Key("evicted_capacity")
        .Int(table.stats.evicted_capacity)
        .Key("lookup_ids")
        .Int(table.stats.lookup_ids)
        .Key("lookup_hits")
        .Int(table.stats.lookup_hits)
        .Key("steps")
        .Int(table.stats.steps)
        .Key("dropped_gradient_rows")
        .Int(table.stats.dropped_gradient_rows)
        .EndObject();
  }
  json.EndArray().Key("tables_left_out").Uint(figures.tables_left_out);
}

void AppendDurabilityJson(const DurabilityFigures& figures, JsonWriter& json) {
  const Durability::CheckpointStats& checkpoints = figures.checkpoints;
  json.Key("write_ahead_log")
      .BeginObject()
      .Key("records")
      .Int(figures.log.records)
      .Key("bytes")
      .Uint(figures.log.bytes)
      .Key("fsyncs")
      .Uint(figures.fsync.count)
      .Key("fsync_seconds_p50")
      .Double(HistogramQuantile(figures.fsync_bounds, figures.fsync, 0.5))
      .Key("fsync_seconds_p99")
      .Double(HistogramQuantile(figures.fsync_bounds, figures.fsync, 0.99))
      .EndObject()
      .Key("checkpoints")
      .BeginObject()
      .Key("written")
      .Int(checkpoints.written)
      .Key("failed")
      .Int(checkpoints.failed);
  if (checkpoints.written > 0) {
    json.Key("last_duration_seconds")
        .Double(checkpoints.last_seconds)
        .Key("last_value_bytes")
        .Uint(checkpoints.last_value_bytes)
        .Key("last_timestamp_seconds")
        .Double(UnixSeconds(checkpoints.last_time));
  }
  json.EndObject();
}

}  // namespace paramserver
