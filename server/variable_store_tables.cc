// VariableStore's dynamic tables (server/dynamic_table.h): creation with
// get_variable's reuse rules, row operations, the change log, replay.

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "server/optimizer.h"
#include "server/variable_store.h"

namespace paramserver {
namespace {

// Per stored row, beyond its floats: the index entry, id, last use and
// recency links (server/table_stripe.h), rounded up.
constexpr size_t kRowOverheadBytes = 64;

size_t SlotCount(OptimizerKind kind) {
  OptimizerSpec optimizer;
  optimizer.kind = kind;
  return SlotsFor(optimizer).size();
}

// What a table counts against max_total_bytes: its capacity in rows, and
// the admission sketch.
size_t TableBytes(const TableSpec& spec) {
  const size_t entry_bytes = static_cast<size_t>(spec.width) *
                             (1 + SlotCount(spec.optimizer)) * sizeof(float);
  const size_t sketch_bytes =
      spec.admit_after > 1 ? AdmissionSketch::kRows * (size_t{1} << 20) : 0;
  return static_cast<size_t>(spec.capacity) *
             (entry_bytes + kRowOverheadBytes) +
         sketch_bytes;
}

// The spec's fields that a reuse must match, for messages.
std::string Describe(const TableSpec& spec) {
  return absl::StrCat("width ", spec.width, ", capacity ", spec.capacity,
                      ", optimizer ", static_cast<int>(spec.optimizer),
                      ", admit_after ", spec.admit_after, ", ttl_micros ",
                      spec.ttl_micros, ", initializer ",
                      InitializerName(spec.initializer.kind), " seed ",
                      spec.initializer.seed.value_or(0), ", id shard ",
                      spec.id_shard_index, " of ", spec.id_shard_count);
}

bool SameSpec(const TableSpec& a, const TableSpec& b) {
  const InitializerSpec& x = a.initializer;
  const InitializerSpec& y = b.initializer;
  return a.width == b.width && a.optimizer == b.optimizer &&
         a.initial_accumulator_value == b.initial_accumulator_value &&
         a.admit_after == b.admit_after && a.capacity == b.capacity &&
         a.evict_when_full == b.evict_when_full &&
         a.ttl_micros == b.ttl_micros && a.id_shard_index == b.id_shard_index &&
         a.id_shard_count == b.id_shard_count && x.kind == y.kind &&
         x.values == y.values && x.value_shape == y.value_shape &&
         x.minval == y.minval && x.maxval == y.maxval && x.mean == y.mean &&
         x.stddev == y.stddev && x.scale == y.scale && x.mode == y.mode &&
         x.distribution == y.distribution && x.seed == y.seed &&
         x.full_shape == y.full_shape;
}

VariableInfo InfoOf(const std::string& name, const TableSpec& spec,
                    const DynamicTable::Stats& stats) {
  VariableInfo info;
  info.name = name;
  info.shape = TensorShape{spec.capacity, spec.width};
  info.dtype = DType::kFloat;
  info.version = stats.steps + 1;
  return info;
}

}  // namespace

struct VariableStore::StoreTable : public TableChangeLog {
  StoreTable(VariableStore* store, std::string name, TableSpec spec,
             size_t bytes)
      : store(store),
        name(std::move(name)),
        spec(std::move(spec)),
        bytes(bytes) {}

  absl::StatusOr<uint64_t> Append(const TableChange& change) override {
    return store->AppendTableChange(*this, change);
  }
  absl::Status Commit(uint64_t position) override {
    return store->CommitLog(position);
  }

  VariableStore* const store;
  const std::string name;
  const TableSpec spec;  // Seeded.
  const size_t bytes;    // Counted in total_bytes_ while registered.
  std::unique_ptr<DynamicTable> table;  // Set once, right after creation.
};

absl::StatusOr<std::shared_ptr<VariableStore::StoreTable>>
VariableStore::MakeTableLocked(absl::string_view name, const TableSpec& spec) {
  if (spec.capacity <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table ", name,
        " needs a capacity (most rows stored): the server counts capacity x "
        "row bytes against its memory limit."));
  }
  if (spec.width < 1 || spec.width > DynamicTable::kMaxWidth) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dynamic table ", name, ": width must be in [1, ",
                     DynamicTable::kMaxWidth, "], got ", spec.width, "."));
  }
  const size_t row_bytes = static_cast<size_t>(spec.width) *
                               (1 + SlotCount(spec.optimizer)) * sizeof(float) +
                           kRowOverheadBytes;
  if (static_cast<size_t>(spec.capacity) >
      options_.max_total_bytes / row_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("Dynamic table ", name, " of capacity ", spec.capacity,
                     " rows cannot fit the server's memory limit of ",
                     options_.max_total_bytes, " bytes."));
  }
  const size_t bytes = TableBytes(spec);
  if (!FitsLocked(bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "Dynamic table ", name, " (", spec.capacity, " rows of ", spec.width,
        " floats and their slots: ", bytes,
        " bytes) would exceed the server's memory limit of ",
        options_.max_total_bytes, " bytes (", InUseLocked(), " in use)."));
  }
  auto store_table =
      std::make_shared<StoreTable>(this, std::string(name), spec, bytes);
  DynamicTableOptions options;
  options.name = std::string(name);
  options.spec = spec;
  options.stripes = options_.table_stripes;
  options.change_log = change_log_ != nullptr ? store_table.get() : nullptr;
  absl::StatusOr<std::unique_ptr<DynamicTable>> table =
      DynamicTable::Create(std::move(options));
  if (!table.ok()) return table.status();
  store_table->table = *std::move(table);
  total_bytes_ += bytes;
  return store_table;
}

absl::StatusOr<VariableStore::GetTableResult> VariableStore::GetTable(
    const TableRequest& request) {
  if (absl::Status s = ValidateFullName(request.name, "table name"); !s.ok()) {
    return s;
  }
  TableSpec spec = request.spec;
  std::shared_ptr<StoreTable> table;
  bool created = false;
  LogPosition end = 0;
  {
    MutexLock order(&log_mu_);
    MutexLock lock(&mu_);
    if (variables_.count(request.name) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(request.name, " is a variable, not a dynamic table."));
    }
    auto it = tables_.find(request.name);
    if (it != tables_.end()) {
      if (request.reuse == ReuseMode::kCreate) {
        return absl::AlreadyExistsError(absl::StrCat(
            "Dynamic table ", request.name,
            " already exists, disallowed. Did you mean to set reuse=True or "
            "reuse=tf.AUTO_REUSE in VarScope?"));
      }
      if (!spec.initializer.seed.has_value()) {
        spec.initializer.seed = it->second->spec.initializer.seed;
      }
      if (!SameSpec(spec, it->second->spec)) {
        return absl::InvalidArgumentError(
            absl::StrCat("Trying to share dynamic table ", request.name,
                         ", but the specified spec (", Describe(spec),
                         ") differs from the existing one (",
                         Describe(it->second->spec), ")."));
      }
      table = it->second;
    } else {
      if (request.reuse == ReuseMode::kReuse) {
        return absl::NotFoundError(absl::StrCat(
            "Dynamic table ", request.name,
            " does not exist. Did you mean to set reuse=tf.AUTO_REUSE in "
            "VarScope?"));
      }
      if (!spec.initializer.seed.has_value()) {
        thread_local absl::BitGen random;
        spec.initializer.seed =
            static_cast<int64_t>(absl::Uniform<uint64_t>(random));
      }
      absl::StatusOr<std::shared_ptr<StoreTable>> made =
          MakeTableLocked(request.name, spec);
      if (!made.ok()) return made.status();
      if (change_log_ != nullptr) {
        absl::StatusOr<LogPosition> logged =
            change_log_->AppendCreateTable(request.name, spec);
        if (!logged.ok()) {
          total_bytes_ -= (*made)->bytes;
          return logged.status();
        }
        end = *logged;
      }
      table = *std::move(made);
      tables_.emplace(request.name, table);
      created = true;
    }
  }
  // Registered now whatever the commit says, so it sweeps in any case.
  if (created && (spec.ttl_micros > 0 || spec.capacity > 0)) {
    table->table->StartSweeper(options_.table_sweep_interval_micros);
  }
  if (absl::Status s = CommitLog(end); !s.ok()) return s;
  return GetTableResult{{table->name, table->spec, table->table->GetStats()},
                        created};
}

absl::StatusOr<TableInfo> VariableStore::GetTableInfo(absl::string_view name) {
  std::shared_ptr<StoreTable> table = FindTable(name);
  if (table == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("Dynamic table ", name, " does not exist."));
  }
  return TableInfo{table->name, table->spec, table->table->GetStats()};
}

std::vector<TableInfo> VariableStore::DescribeTables() {
  std::vector<std::shared_ptr<StoreTable>> tables;
  {
    MutexLock lock(&mu_);
    for (const auto& [name, table] : tables_) tables.push_back(table);
  }
  std::vector<TableInfo> infos;
  infos.reserve(tables.size());
  for (const std::shared_ptr<StoreTable>& table : tables) {
    infos.push_back({table->name, table->spec, table->table->GetStats()});
  }
  return infos;
}

std::shared_ptr<VariableStore::StoreTable> VariableStore::FindTable(
    absl::string_view name) {
  MutexLock lock(&mu_);
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : it->second;
}

absl::StatusOr<VariableStore::GatherResult> VariableStore::GatherTableRows(
    StoreTable& table, absl::Span<const int64_t> ids, TableRead read) {
  const size_t row_bytes = static_cast<size_t>(table.spec.width) * 4;
  if (ids.size() > kMaxGatherBytes / row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Gathering ", ids.size(), " rows of ", table.name, " (", row_bytes,
        " bytes each) would return more than ", kMaxGatherBytes,
        " bytes, the most one call returns; gather fewer rows per call."));
  }
  absl::StatusOr<std::shared_ptr<TensorBuffer>> rows = AllocateReply(
      ids.size() * row_bytes,
      absl::StrCat("Gathering ", ids.size(), " rows of ", table.name));
  if (!rows.ok()) return rows.status();
  // TensorBuffer is 64-byte aligned, so it holds floats.
  const absl::Span<float> out = absl::MakeSpan(
      reinterpret_cast<float*>((*rows)->data()), ids.size() * table.spec.width);
  const absl::Status looked = read == TableRead::kPeek
                                  ? table.table->Peek(ids, out)
                                  : table.table->Lookup(ids, out);
  if (!looked.ok()) return looked;
  GatherResult result;
  result.info = InfoOf(table.name, table.spec, table.table->GetStats());
  result.rows = *std::move(rows);
  return result;
}

absl::StatusOr<VariableInfo> VariableStore::PushTableRows(
    StoreTable& table, const RowUpdateSpec& push) {
  if (!push.push_id.empty() || push.bags.has_value() ||
      push.base_version.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dynamic table ", table.name,
        " takes row pushes without push ids, bags or a base version (not "
        "supported on dynamic tables yet)."));
  }
  const size_t row_bytes = static_cast<size_t>(table.spec.width) * 4;
  if (push.rows.size() != push.ids.size() * row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Rows for ", table.name, " have ", push.rows.size(), " bytes; ",
        push.ids.size(), " ids of rows of ", row_bytes, " bytes (",
        table.spec.width, " float32) need ", push.ids.size() * row_bytes, "."));
  }
  // The request's bytes need not be aligned for floats.
  std::vector<float> rows(push.ids.size() * table.spec.width);
  if (!rows.empty()) {
    std::memcpy(rows.data(), push.rows.data(), push.rows.size());
  }
  absl::Status status;
  switch (push.kind) {
    case UpdateKind::kAssign:
      status = table.table->Assign(push.ids, rows);
      break;
    case UpdateKind::kAssignAdd:
      status = table.table->Add(push.ids, rows);
      break;
    case UpdateKind::kApplyGradient:
      status = table.table->ApplyGradient(push.optimizer, push.ids, rows);
      break;
  }
  if (!status.ok()) return status;
  return InfoOf(table.name, table.spec, table.table->GetStats());
}

absl::StatusOr<uint64_t> VariableStore::AppendTableChange(
    const StoreTable& table, const TableChange& change) {
  if (change_log_ == nullptr) return uint64_t{0};
  MutexLock order(&log_mu_);
  {
    MutexLock lock(&mu_);
    auto it = tables_.find(table.name);
    if (it == tables_.end() || it->second.get() != &table) {
      return absl::NotFoundError(absl::StrCat(
          "Dynamic table ", table.name, " was deleted during this call."));
    }
  }
  // No delete can come between: deletes take log_mu_.
  return change_log_->AppendTableChange(
      table.name, table.table->entry_floats(), change,
      change.gradient ? ChangeSource::kGradient : ChangeSource::kAssign);
}

absl::Status VariableStore::DeleteTableLocked(
    TableMap::iterator it, LogPosition* end,
    std::vector<std::shared_ptr<StoreTable>>* removed) {
  if (absl::Status s = LogDeleteLocked(it->first, end); !s.ok()) return s;
  EraseTableLocked(it, removed);
  return absl::OkStatus();
}

void VariableStore::EraseTableLocked(
    TableMap::iterator it, std::vector<std::shared_ptr<StoreTable>>* removed) {
  total_bytes_ -= it->second->bytes;
  removed->push_back(std::move(it->second));
  tables_.erase(it);
}

VariableStore::~VariableStore() {
  // A sweep that runs meanwhile finds its table unregistered and evicts
  // nothing; the tables' destructors then join their sweepers here, with
  // every member the sweeps touch still in place.
  TableMap tables;
  {
    MutexLock lock(&mu_);
    tables.swap(tables_);
  }
}

absl::Status VariableStore::ReplayCreateTable(absl::string_view name,
                                              const TableSpec& spec) {
  MutexLock lock(&mu_);
  if (tables_.count(name) > 0) return absl::OkStatus();
  absl::StatusOr<std::shared_ptr<StoreTable>> made =
      MakeTableLocked(name, spec);
  if (!made.ok()) {
    return absl::DataLossError(
        absl::StrCat("The log creates dynamic table ", name,
                     ", which cannot be made here: ", made.status().message()));
  }
  tables_.emplace(std::string(name), *std::move(made));
  return absl::OkStatus();
}

absl::Status VariableStore::ReplayTableChange(absl::string_view name,
                                              const TableChange& change) {
  std::shared_ptr<StoreTable> table = FindTable(name);
  if (table == nullptr) {
    return absl::DataLossError(
        absl::StrCat("The log changes dynamic table ", name,
                     ", which the restored state lacks."));
  }
  const absl::Status replayed = table->table->Replay(change);
  if (!replayed.ok()) return absl::DataLossError(replayed.message());
  return absl::OkStatus();
}

absl::Status VariableStore::StartSegmentWithTables(
    const std::function<absl::Status()>& start_segment,
    std::vector<std::shared_ptr<Variable>>* members) {
  MutexLock order(&log_mu_);
  if (absl::Status s = start_segment(); !s.ok()) return s;
  MutexLock lock(&mu_);
  if (members != nullptr) {
    members->clear();
    members->reserve(variables_.size());
    for (const auto& [name, variable] : variables_) {
      members->push_back(variable);
    }
  }
  if (change_log_ == nullptr) return absl::OkStatus();
  for (const auto& [name, table] : tables_) {
    absl::StatusOr<LogPosition> created =
        change_log_->AppendCreateTable(name, table->spec);
    if (!created.ok()) return created.status();
  }
  return absl::OkStatus();
}

absl::Status VariableStore::LogTables() {
  if (change_log_ == nullptr) return absl::OkStatus();
  std::vector<std::shared_ptr<StoreTable>> tables;
  {
    MutexLock lock(&mu_);
    for (const auto& [name, table] : tables_) tables.push_back(table);
  }
  LogPosition end = 0;
  for (const std::shared_ptr<StoreTable>& table : tables) {
    absl::StatusOr<uint64_t> rows = table->table->LogRows();
    if (absl::IsNotFound(rows.status())) continue;  // Deleted meanwhile.
    if (!rows.ok()) return rows.status();
    end = std::max<LogPosition>(end, *rows);
  }
  return CommitLog(end);
}

void VariableStore::StartTableSweepers() {
  MutexLock lock(&mu_);
  for (const auto& [name, table] : tables_) {
    if (table->spec.ttl_micros > 0 || table->spec.capacity > 0) {
      table->table->StartSweeper(options_.table_sweep_interval_micros);
    }
  }
}

size_t VariableStore::num_tables() const {
  MutexLock lock(&mu_);
  return tables_.size();
}

}  // namespace paramserver
