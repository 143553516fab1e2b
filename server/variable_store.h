#ifndef PARAM_SERVER_SERVER_VARIABLE_STORE_H_
#define PARAM_SERVER_SERVER_VARIABLE_STORE_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/mutex.h"
#include "common/row_limits.h"
#include "common/table_spec.h"
#include "common/update_spec.h"
#include "common/variable_spec.h"
#include "server/change_log.h"
#include "server/dynamic_table.h"
#include "server/optimizer.h"
#include "server/push_ids.h"
#include "server/row_layout.h"
#include "server/store_counters.h"
#include "server/variable.h"

namespace paramserver {

// Most updates one push may carry.
inline constexpr size_t kMaxUpdatesPerPush = size_t{1} << 16;

// INVALID_ARGUMENT ("A push may carry at most N updates; ...") for more than
// kMaxUpdatesPerPush updates. The one check of the count: the store's Push
// and CheckPushHeader run it, and the handlers (server/variable_service.h)
// run it on a request before doing anything per update.
absl::Status CheckPushUpdateCount(size_t updates);

// The largest result of one GatherRows call is kMaxGatherBytes
// (common/row_limits.h).

struct PushTarget;  // One update of a push, resolved (variable_store_push.cc).

struct TableInfo {
  std::string name;
  TableSpec spec;
  DynamicTable::Stats stats;
};

struct StoreOptions {
  // Largest single variable, in bytes of its value.
  size_t max_variable_bytes = size_t{1} << 30;
  // Sum over all variables, plus what pushes being received hold (Reserve),
  // plus the replies of gathers and pooled lookups until they are sent.
  size_t max_total_bytes = size_t{16} << 30;
  // Push ids remembered (see Push): at most this many, the oldest evicted
  // first, and at most push_id_bytes of them (ids plus the answers' names
  // and shapes, PushIdTable::EntryBytes; not counted in max_total_bytes).
  size_t push_ids_to_remember = size_t{1} << 16;
  size_t push_id_bytes = size_t{64} << 20;
  // How often each dynamic table sweeps out idle rows (and rows over its
  // capacity).
  int64_t table_sweep_interval_micros = 1'000'000;
  // Lock stripes per dynamic table (DynamicTableOptions::stripes): a power
  // of two in [1, DynamicTable::kMaxStripes]. 1 makes capacity eviction
  // exact LRU over the whole table, at the cost of parallel calls.
  int table_stripes = 32;
};

// The registry of named variables: tf.get_variable's semantics, resolved
// atomically for every caller. Pure C++ (no RPC types), thread-safe.
//
// Every call validates its arguments and reports bad input as a status:
// INVALID_ARGUMENT for malformed names, shapes, dtypes and initializers and
// for sharing conflicts, ALREADY_EXISTS / NOT_FOUND for reuse conflicts,
// RESOURCE_EXHAUSTED for memory limits. Nothing a caller sends can crash the
// store or change a variable it did not name.
class VariableStore {
 public:
  // With a `change_log`, every creation, deletion and update is recorded in
  // it before it is acknowledged (restoring with Install, ReplayPush and
  // ReplayDelete is not). `change_log` must outlive the store; null for a
  // store that forgets everything when it goes.
  static absl::StatusOr<std::unique_ptr<VariableStore>> Create(
      const StoreOptions& options, ChangeLog* change_log = nullptr);
  // Stops the dynamic tables' sweepers first, while all they use stands.
  ~VariableStore();

  struct GetResult {
    VariableSnapshot snapshot;
    bool created = false;  // True for exactly one caller per variable.
  };

  // tf.get_variable. Under kCreate an existing full name is ALREADY_EXISTS;
  // under kReuse a missing one is NOT_FOUND; when an existing variable is
  // returned, a given shape or dtype that differs from the variable's is
  // INVALID_ARGUMENT ("Trying to share variable ..."). A new variable's
  // initializer runs exactly once, outside the store's lock; concurrent
  // callers asking for the same variable wait for it and share the result.
  absl::StatusOr<GetResult> GetVariable(const VariableRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The current value of the variable `full_name`, or NOT_FOUND.
  absl::StatusOr<VariableSnapshot> ReadVariable(absl::string_view full_name)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Variables under `prefix` by whole path components, sorted by name.
  absl::StatusOr<std::vector<VariableInfo>> ListVariables(
      absl::string_view prefix) ABSL_LOCKS_EXCLUDED(mu_);

  // For operators' views (server/monitoring.h): ListVariables with each
  // variable's slot mark and last update.
  struct VariableStatus {
    VariableInfo info;
    bool is_slot = false;  // An optimizer's slot (v/Momentum, ...).
    absl::Time last_update;
  };
  absl::StatusOr<std::vector<VariableStatus>> DescribeVariables(
      absl::string_view prefix) ABSL_LOCKS_EXCLUDED(mu_);
  // Every dynamic table, sorted by name.
  std::vector<TableInfo> DescribeTables() ABSL_LOCKS_EXCLUDED(mu_);
  const StoreCounters& counters() const { return counters_; }

  // Deletes one variable (NOT_FOUND if absent) and returns its name.
  absl::StatusOr<std::vector<std::string>> DeleteVariable(
      absl::string_view full_name) ABSL_LOCKS_EXCLUDED(mu_);

  // Deletes every variable under `scope` (whole components) and returns their
  // sorted names; an empty scope subtree is not an error.
  absl::StatusOr<std::vector<std::string>> DeleteScope(absl::string_view scope)
      ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Data plane ----

  struct PullResult {
    VariableInfo info;
    // Null when `unchanged`: the caller's known_version is current.
    std::shared_ptr<const TensorBuffer> value;
    bool unchanged = false;
  };

  // Reads many variables; each result is one consistent version of that
  // variable (not a cut across variables). NOT_FOUND names the first missing
  // variable; nothing is returned then.
  absl::StatusOr<std::vector<PullResult>> Pull(
      absl::Span<const PullItemSpec> items) ABSL_LOCKS_EXCLUDED(mu_);

  struct GatherResult {
    VariableInfo info;  // The version the rows were read at.
    // ids.size() rows, in the order of the ids; never null. Its own buffer,
    // so gRPC can send it without another copy.
    std::shared_ptr<const TensorBuffer> rows;
  };
  // tf.gather on the first dimension: the rows `ids` of the variable
  // `full_name` (rank 1 or more), in the order asked, repeats allowed, all
  // from one version. NOT_FOUND for a missing variable; INVALID_ARGUMENT for
  // a scalar, an id outside [0, rows) (the first one, in TensorFlow's
  // words), or a result larger than kMaxGatherBytes; RESOURCE_EXHAUSTED
  // when the result cannot be allocated. On a dynamic table, `read` says
  // whether this is a lookup or a peek (common/table_spec.h); a variable's
  // gather changes nothing either way.
  absl::StatusOr<GatherResult> GatherRows(absl::string_view full_name,
                                          absl::Span<const int64_t> ids,
                                          TableRead read = TableRead::kLookup)
      ABSL_LOCKS_EXCLUDED(mu_);

  // tf.nn.embedding_lookup_sparse pooled here (server/bags.h): one row per
  // bag of `bags`, from a float32 variable of rank 1 or more, all read at
  // one version. Errors as GatherRows's (the result counts bags), and
  // INVALID_ARGUMENT for bags that do not describe the ids (CheckBags) or
  // another dtype.
  absl::StatusOr<GatherResult> LookupSparse(absl::string_view full_name,
                                            absl::Span<const int64_t> ids,
                                            const BagSpec& bags)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Applies every update of `push` or none: every update is checked first,
  // then the slots the optimizer needs are created on first use, the
  // variables and slots are locked in name order, staleness is checked, and
  // all updates apply, each variable's version going up by one. Errors:
  // NOT_FOUND for a missing variable; INVALID_ARGUMENT for more than
  // kMaxUpdatesPerPush updates, a value whose size does not fit, a repeated
  // name, a gradient for a non-floating variable or a bad optimizer; ABORTED
  // when an update's base_version is more than max_staleness behind;
  // RESOURCE_EXHAUSTED when new slots do not fit. A push that fails leaves
  // no slot it created behind (a concurrent push that found such a slot in
  // the meantime steps a slot that is then gone). Returns the variables'
  // metadata after the update, in request order.
  //
  // A push with a push_id (INVALID_ARGUMENT beyond kMaxPushIdBytes) is
  // applied at most once while its id is remembered (the last
  // push_ids_to_remember applied ids; with a change log also across
  // restarts): a repeat gets the first push's answer, whatever it carries,
  // and changes nothing; a repeat concurrent with the first waits for it. A
  // push that fails is not remembered, so its repeat applies. The answer
  // stands even if its variables are deleted or re-created since.
  absl::StatusOr<std::vector<VariableInfo>> Push(const PushSpec& push)
      ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Dynamic tables (server/dynamic_table.h) ----
  //
  // A table shares the variables' names (a name is one or the other) and
  // their row operations: GatherRows on a table returns each id's row
  // (stored, or its initial row; admitting new ids), PushRows assigns, adds
  // or steps the table's optimizer on stored rows. A table counts
  // capacity x (its entry's bytes + 64) against max_total_bytes from its
  // creation, so it needs a capacity. Its changes go through the change
  // log; a checkpoint logs every table again (LogTables).

  struct GetTableResult {
    TableInfo info;
    bool created = false;
  };
  // Errors: INVALID_ARGUMENT for a bad name or spec (no capacity, bad
  // width, Adam, ...), for a name held by a variable and for a spec that
  // differs from the existing table's ("Trying to share dynamic table");
  // ALREADY_EXISTS / NOT_FOUND as GetVariable's; RESOURCE_EXHAUSTED when
  // the capacity does not fit the memory limit.
  absl::StatusOr<GetTableResult> GetTable(const TableRequest& request)
      ABSL_LOCKS_EXCLUDED(log_mu_, mu_);
  // NOT_FOUND unless `name` is a table.
  absl::StatusOr<TableInfo> GetTableInfo(absl::string_view name)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Log replay of a table's creation; one that exists stays as it is.
  absl::Status ReplayCreateTable(absl::string_view name, const TableSpec& spec)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Log replay of a change; DATA_LOSS for a missing table or a change that
  // does not fit it.
  absl::Status ReplayTableChange(absl::string_view name,
                                 const TableChange& change)
      ABSL_LOCKS_EXCLUDED(mu_);
  // For a checkpoint: runs `start_segment` (the log's switch to its new
  // segment) and appends every table's creation right after it, with
  // nothing logged in between (log_mu_ is held), so that a replay from the
  // new segment meets each table's creation before any change to it.
  // The variables registered at that moment go to *members (when not
  // null): what the checkpoint of the new segment must hold. Taken with the
  // switch, under the same locks as deletions, so that a variable deleted
  // after it stays in the checkpoint (its segment's earlier records need
  // it; replay then applies the deletion).
  absl::Status StartSegmentWithTables(
      const std::function<absl::Status()>& start_segment,
      std::vector<std::shared_ptr<Variable>>* members = nullptr)
      ABSL_LOCKS_EXCLUDED(log_mu_, mu_);
  // Then appends every table's rows (DynamicTable::LogRows) and commits;
  // tables deleted meanwhile are skipped.
  absl::Status LogTables() ABSL_LOCKS_EXCLUDED(log_mu_, mu_);
  // Starts the tables' background eviction (after a restore: replayed
  // tables must not log before the log is open).
  void StartTableSweepers() ABSL_LOCKS_EXCLUDED(mu_);
  size_t num_tables() const ABSL_LOCKS_EXCLUDED(mu_);

  // Most ids one PushRows (or GatherRows) call may carry.
  static constexpr size_t kMaxRowIds = kMaxRowIdsPerCall;

  // A sparse push of one variable's rows (RowUpdateSpec), applied whole or
  // not at all; the variable's version goes up by one, as do its slots' for
  // a gradient. Only the rows named change (and, for a gradient, their slot
  // rows), except under Adam, which as TensorFlow 1.x's AdamOptimizer moves
  // every row. With a change log only the changed rows are logged (Adam:
  // the whole variable and slots). Errors as Push's, and INVALID_ARGUMENT
  // for a scalar, an id outside [0, rows) (TensorFlow's words), more than
  // kMaxRowIds ids, or rows whose size is not ids.size() rows. No ids: a
  // no-op that returns the variable's metadata. Returns the metadata after
  // the update. With push.bags (a float32 variable, kApplyGradient only),
  // rows holds one row per bag, spread to the bag's ids as the gradient of
  // LookupSparse (SpreadBagGradient) and then applied as above. A push_id
  // works as Push's (FAILED_PRECONDITION for an id that a push of another
  // variable used).
  absl::StatusOr<VariableInfo> PushRows(const RowUpdateSpec& push)
      ABSL_LOCKS_EXCLUDED(mu_);

  // What Push would check before touching anything, without the values
  // (which `push` need not hold): the update count, repeated names, that
  // each variable exists, kinds against dtypes, the optimizer. Changes
  // nothing. Returns each update's value size in bytes, in request order, so
  // a caller receiving the values in pieces knows what to expect.
  absl::StatusOr<std::vector<size_t>> CheckPushHeader(const PushSpec& push)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Bytes held outside the variables on the store's behalf (the values of a
  // push still arriving), counted against max_total_bytes together with the
  // variables until the Reservation is destroyed. Move-only. The store must
  // outlive it.
  class Reservation {
   public:
    Reservation(Reservation&& other) noexcept
        : store_(std::exchange(other.store_, nullptr)), bytes_(other.bytes_) {}
    Reservation& operator=(Reservation&& other) = delete;
    ~Reservation();
    size_t bytes() const { return bytes_; }

   private:
    friend class VariableStore;
    Reservation(VariableStore* store, size_t bytes)
        : store_(store), bytes_(bytes) {}
    VariableStore* store_;
    size_t bytes_;
  };
  // RESOURCE_EXHAUSTED, naming `what`, when `bytes` more would exceed
  // max_total_bytes.
  absl::StatusOr<Reservation> Reserve(size_t bytes, absl::string_view what)
      ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Durability ----

  // A variable with a given value and version, replacing any of that name:
  // checkpoint restore and log replay. Counts against the memory limits.
  absl::Status Install(const VariableInfo& info, bool is_slot,
                       std::shared_ptr<TensorBuffer> value)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Log replay of a push: sets every value and version, or none of them.
  // DATA_LOSS naming the first variable that is missing or of another size:
  // the log does not match the state it continues.
  // A logged push id is remembered with its answer (the pushed variables'
  // infos as the record leaves them).
  absl::Status ReplayPush(absl::Span<const LoggedValue> values,
                          const LoggedPushId& push_id = {})
      ABSL_LOCKS_EXCLUDED(mu_);
  // Log replay of a sparse push (ChangeLog::AppendRows): sets the rows `ids`
  // of every value's variable and its version, or nothing. DATA_LOSS naming
  // the first value that does not fit (CheckReplayRows).
  // A logged push id is remembered with its answer (the variable's info as
  // the record leaves it).
  absl::Status ReplayRows(absl::Span<const int64_t> ids,
                          absl::Span<const LoggedValue> values,
                          const LoggedPushId& push_id = {})
      ABSL_LOCKS_EXCLUDED(mu_);
  // DATA_LOSS unless `value`'s variable exists, has rows, every id is one
  // of them and `value` holds ids.size() of its rows.
  absl::Status CheckReplayRows(absl::Span<const int64_t> ids,
                               const LoggedValue& value)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Log replay of the push ids a checkpoint kept (ChangeLog::AppendPushIds).
  void ReplayPushIds(absl::Span<const RememberedPush> remembered);
  // Appends the remembered push ids to the change log as one record, after
  // every push logged so far, and commits it; for a checkpoint, after the
  // log's new segment started. Nothing without a change log or ids.
  absl::Status LogPushIds() ABSL_LOCKS_EXCLUDED(log_mu_, mu_);
  // The remembered push ids, oldest first.
  std::vector<RememberedPush> RememberedPushes() const {
    return push_ids_.Snapshot();
  }
  // Log replay of a deletion; a missing name is not an error.
  void ReplayDelete(absl::string_view name) ABSL_LOCKS_EXCLUDED(mu_);

  struct SnapshotEntry {
    VariableSnapshot snapshot;
    bool is_slot = false;
  };
  // Every variable's current value, for a checkpoint (each entry is one
  // consistent version of its variable). Sorted by name.
  std::vector<SnapshotEntry> SnapshotAll() ABSL_LOCKS_EXCLUDED(mu_);
  // The current values of `members` (from StartSegmentWithTables), even of
  // those deleted since, in their order.
  static std::vector<SnapshotEntry> SnapshotOf(
      const std::vector<std::shared_ptr<Variable>>& members);

  // Bytes of variable values currently accounted against max_total_bytes.
  size_t total_bytes() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t num_variables() const ABSL_LOCKS_EXCLUDED(mu_);
  // Bytes currently held by Reservations.
  size_t reserved_bytes() const ABSL_LOCKS_EXCLUDED(mu_);
  // Bytes of gather and pooled-lookup replies not yet released.
  size_t reply_bytes() const;
  size_t max_variable_bytes() const { return options_.max_variable_bytes; }
  size_t max_total_bytes() const { return options_.max_total_bytes; }

 private:
  VariableStore(const StoreOptions& options, ChangeLog* change_log)
      : options_(options),
        change_log_(change_log),
        push_ids_(options.push_ids_to_remember, options.push_id_bytes) {}

  // Push without the push id's bookkeeping.
  absl::StatusOr<std::vector<VariableInfo>> PushOnce(const PushSpec& push)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Finds the existing variable for `request` or registers a pending one.
  // Sets *created when the caller must run the initializer.
  absl::StatusOr<std::shared_ptr<Variable>> FindOrRegister(
      const VariableRequest& request, const std::string& full_name,
      bool* created) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::shared_ptr<Variable>> RegisterLocked(
      const VariableRequest& request, const std::string& full_name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the initializer of a variable this caller registered and publishes
  // it; on failure unregisters it again.
  absl::Status Initialize(const std::shared_ptr<Variable>& variable,
                          const InitializerSpec& initializer)
      ABSL_LOCKS_EXCLUDED(mu_);
  using VariableMap =
      std::map<std::string, std::shared_ptr<Variable>, std::less<>>;
  void EraseLocked(VariableMap::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unregisters a variable whose creation failed and fails its waiters.
  absl::Status Abandon(const std::shared_ptr<Variable>& variable,
                       absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // Appends a deletion and advances *end to the position after it.
  absl::Status LogDeleteLocked(absl::string_view name, LogPosition* end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(log_mu_, mu_);
  // Commits `end` when something was appended (end > 0).
  absl::Status CommitLog(LogPosition end);
  // Appends a change to `variables` with `append`, under log_mu_, if every
  // one of them is still the variable registered under its name, then
  // commits it. A delete may have removed one since the caller found it:
  // then nothing is appended, *gone is set and the status is NOT_FOUND, and
  // the caller's change must not take effect (in the log's order, the
  // delete came first).
  absl::Status AppendInOrder(
      absl::Span<const std::shared_ptr<Variable>> variables,
      const std::function<absl::StatusOr<LogPosition>()>& append, bool* gone)
      ABSL_LOCKS_EXCLUDED(log_mu_, mu_);
  // Logs the creation of `variable` with its initial value; a variable
  // deleted while it was being initialized is not logged (the delete's
  // record already stands for its short life).
  absl::Status LogCreation(const std::shared_ptr<Variable>& variable,
                           absl::string_view value)
      ABSL_LOCKS_EXCLUDED(log_mu_, mu_);

  // The variable called `full_name`, or INVALID_ARGUMENT / NOT_FOUND.
  // PushRows without the push id's bookkeeping.
  absl::StatusOr<VariableInfo> PushRowsOnce(const RowUpdateSpec& push)
      ABSL_LOCKS_EXCLUDED(mu_);
  // PushRows with bags: checks them and spreads the rows to the ids.
  absl::StatusOr<VariableInfo> PushBagGradient(const RowUpdateSpec& push)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The variables under `prefix` (ListVariables' rule), pending ones too.
  absl::StatusOr<std::vector<std::shared_ptr<Variable>>> Under(
      absl::string_view prefix) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::shared_ptr<Variable>> Find(absl::string_view full_name)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The slot variables `optimizer` keeps for `variable`, created (outside the
  // user's reuse rules, as TensorFlow's optimizers do) when missing; the ones
  // created here are also appended to `created`.
  absl::StatusOr<std::vector<std::shared_ptr<Variable>>> EnsureSlots(
      const Variable& variable, const OptimizerSpec& optimizer,
      std::vector<std::shared_ptr<Variable>>* created) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::shared_ptr<Variable>> EnsureSlotLocked(
      const Variable& variable, const SlotSpec& slot, LogPosition* end,
      bool* created) ABSL_EXCLUSIVE_LOCKS_REQUIRED(log_mu_, mu_);
  // Removes slots a failed push created, where they are still registered
  // and no other push has them: one that holds a slot (found it while this
  // push ran) or has applied to it (its version moved on) shares it, and
  // the slot stays. The caller must hold no other reference to `slots`.
  void DiscardSlots(const std::vector<std::shared_ptr<Variable>>& slots)
      ABSL_LOCKS_EXCLUDED(log_mu_, mu_);
  // The part of Push after its updates were checked: slots, locks, apply.
  absl::StatusOr<std::vector<VariableInfo>> ApplyPush(
      const PushSpec& push, std::vector<PushTarget>& targets,
      std::vector<std::shared_ptr<Variable>>* created_slots)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The part of PushRows after its arguments were checked and its slots
  // found: locks, apply, log (variable_store_rows.cc).
  absl::StatusOr<VariableInfo> ApplyRows(
      const RowUpdateSpec& push, const RowLayout& layout,
      std::shared_ptr<Variable> variable,
      std::vector<std::shared_ptr<Variable>> slots) ABSL_LOCKS_EXCLUDED(mu_);
  void Release(size_t bytes) ABSL_LOCKS_EXCLUDED(mu_);
  // Variables, Reservations and replies.
  size_t InUseLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `bytes` more stay within max_total_bytes.
  bool FitsLocked(size_t bytes) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A buffer of `bytes` for a reply (GatherRows, LookupSparse), counted
  // against max_total_bytes until its last reference goes;
  // RESOURCE_EXHAUSTED, naming `what`, when it does not fit.
  absl::StatusOr<std::shared_ptr<TensorBuffer>> AllocateReply(
      size_t bytes, absl::string_view what) ABSL_LOCKS_EXCLUDED(mu_);
  // Accounts `bytes` against the limits; RESOURCE_EXHAUSTED when over.
  absl::Status ReserveLocked(const std::string& full_name,
                             absl::Span<const int64_t> shape, DType dtype,
                             size_t* bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A table with its place in the store: its change log adapter (the
  // table's changes go to change_log_ while it is registered).
  struct StoreTable;
  std::shared_ptr<StoreTable> FindTable(absl::string_view name)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A table made from `spec`, counted in total_bytes_; not registered.
  absl::StatusOr<std::shared_ptr<StoreTable>> MakeTableLocked(
      absl::string_view name, const TableSpec& spec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<GatherResult> GatherTableRows(StoreTable& table,
                                               absl::Span<const int64_t> ids,
                                               TableRead read)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<VariableInfo> PushTableRows(StoreTable& table,
                                             const RowUpdateSpec& push)
      ABSL_LOCKS_EXCLUDED(mu_);
  // StoreTable's TableChangeLog::Append: NOT_FOUND when the table is no
  // longer registered (a delete was logged first).
  absl::StatusOr<uint64_t> AppendTableChange(const StoreTable& table,
                                             const TableChange& change)
      ABSL_LOCKS_EXCLUDED(log_mu_, mu_);
  // Unregisters the table `it` after logging its deletion.
  using TableMap =
      std::map<std::string, std::shared_ptr<StoreTable>, std::less<>>;
  // The table goes to *removed, for the caller to drop after releasing the
  // locks: its destruction joins its sweeper, which may be waiting for
  // log_mu_ to log an eviction.
  absl::Status DeleteTableLocked(
      TableMap::iterator it, LogPosition* end,
      std::vector<std::shared_ptr<StoreTable>>* removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(log_mu_, mu_);
  // Unregisters the table `it` into *removed and releases its bytes.
  void EraseTableLocked(TableMap::iterator it,
                        std::vector<std::shared_ptr<StoreTable>>* removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const StoreOptions options_;
  ChangeLog* const change_log_;  // Null: nothing is logged.
  // Thread-safe itself. An applied push's id is answered there while its log
  // record is appended (under log_mu_), so that LogPushIds, under log_mu_,
  // sees every id logged before it.
  PushIdTable push_ids_;
  StoreCounters counters_;

  // Held while a change is appended to change_log_, together with the check
  // that the names it changes still mean what they meant when it took
  // effect: creations, deletions and slot creations append under log_mu_
  // and mu_ (or check under mu_ first), pushes under their variables' locks
  // and log_mu_. So, per name, the log's order is the order in which the
  // changes took effect, and a push that lost a race with a delete is not
  // logged after it. Order: variables' locks, then log_mu_, then mu_.
  Mutex log_mu_ ABSL_ACQUIRED_BEFORE(mu_);

  // State below is protected by mu_. Ordered so that a scope's variables are
  // one contiguous range.
  mutable Mutex mu_;
  VariableMap variables_ ABSL_GUARDED_BY(mu_);
  TableMap tables_ ABSL_GUARDED_BY(mu_);
  size_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t reserved_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // See Reserve.
  // Bytes of replies not yet released (AllocateReply): raised under mu_
  // after the limit check, lowered without it by the last reference to a
  // reply, which can outlive the store.
  const std::shared_ptr<std::atomic<size_t>> reply_bytes_ =
      std::make_shared<std::atomic<size_t>>(0);
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_VARIABLE_STORE_H_
