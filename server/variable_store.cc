#include "server/variable_store.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "server/initializer.h"

namespace paramserver {
namespace {

absl::Status AlreadyExists(absl::string_view full_name) {
  return absl::AlreadyExistsError(absl::StrCat(
      "Variable ", full_name,
      " already exists, disallowed. Did you mean to set reuse=True or "
      "reuse=tf.AUTO_REUSE in VarScope?"));
}

absl::Status DoesNotExist(absl::string_view full_name) {
  return absl::NotFoundError(absl::StrCat(
      "Variable ", full_name,
      " does not exist, or was not created with tf.get_variable(). Did you "
      "mean to set reuse=tf.AUTO_REUSE in VarScope?"));
}

absl::Status NotFound(absl::string_view full_name) {
  return absl::NotFoundError(
      absl::StrCat("Variable ", full_name, " does not exist."));
}

// TensorFlow checks a reused variable's shape, then its dtype. TF 1.15's
// graph-mode variables are reference variables, so it names the found dtype
// "float32_ref"; so do we.
absl::Status CheckSharing(const Variable& variable,
                          const VariableRequest& request, DType dtype) {
  if (request.shape.has_value() && *request.shape != variable.shape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Trying to share variable ", variable.name(), ", but specified shape ",
        ShapeToString(*request.shape), " and found shape ",
        ShapeToString(variable.shape()), "."));
  }
  if (dtype != variable.dtype()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Trying to share variable ", variable.name(), ", but specified dtype ",
        DTypeName(dtype), " and found dtype ", DTypeName(variable.dtype()),
        "_ref."));
  }
  return absl::OkStatus();
}

absl::Status ValidateRequest(const VariableRequest& request) {
  if (absl::Status s = ValidateScopedName(request.scope, request.name);
      !s.ok()) {
    return s;
  }
  if (request.shape.has_value()) {
    if (absl::Status s = NumElements(*request.shape).status(); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<VariableStore>> VariableStore::Create(
    const StoreOptions& options, ChangeLog* change_log) {
  if (options.max_variable_bytes > options.max_total_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_variable_bytes (", options.max_variable_bytes,
        ") must not exceed max_total_bytes (", options.max_total_bytes, ")."));
  }
  return std::unique_ptr<VariableStore>(new VariableStore(options, change_log));
}

absl::StatusOr<VariableStore::GetResult> VariableStore::GetVariable(
    const VariableRequest& request) {
  const std::string full_name = JoinScope(request.scope, request.name);
  if (absl::Status s = ValidateRequest(request); !s.ok()) return s;
  bool created = false;
  absl::StatusOr<std::shared_ptr<Variable>> variable =
      FindOrRegister(request, full_name, &created);
  if (!variable.ok()) return variable.status();
  if (created) {
    if (absl::Status s = Initialize(*variable, request.initializer); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<VariableSnapshot> snapshot = (*variable)->Read();
  if (!snapshot.ok()) return snapshot.status();
  return GetResult{*std::move(snapshot), created};
}

absl::StatusOr<std::shared_ptr<Variable>> VariableStore::FindOrRegister(
    const VariableRequest& request, const std::string& full_name,
    bool* created) {
  const DType dtype = request.dtype.value_or(DType::kFloat);
  MutexLock lock(&mu_);
  if (tables_.count(full_name) > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(full_name, " is a dynamic table, not a variable."));
  }
  auto it = variables_.find(full_name);
  if (it != variables_.end()) {
    if (request.reuse == ReuseMode::kCreate) return AlreadyExists(full_name);
    if (absl::Status s = CheckSharing(*it->second, request, dtype); !s.ok()) {
      return s;
    }
    return it->second;
  }
  if (request.reuse == ReuseMode::kReuse) return DoesNotExist(full_name);
  *created = true;
  return RegisterLocked(request, full_name);
}

absl::StatusOr<std::shared_ptr<Variable>> VariableStore::RegisterLocked(
    const VariableRequest& request, const std::string& full_name) {
  const DType dtype = request.dtype.value_or(DType::kFloat);
  std::optional<TensorShape> shape = request.shape;
  if (!shape.has_value()) shape = ImpliedShape(request.initializer);
  if (!shape.has_value()) {
    // TF 1.15's text for get_variable(name) with neither shape nor value.
    return absl::InvalidArgumentError(absl::StrCat(
        "The initializer passed is not valid. It should be a callable with no "
        "arguments and the shape should not be provided or an instance of "
        "`tf.keras.initializers.*' and `shape` should be fully defined. (new "
        "variable ",
        full_name, " has no shape)"));
  }
  absl::StatusOr<int64_t> elements = NumElements(*shape);
  if (!elements.ok()) return elements.status();
  if (absl::Status s =
          ValidateInitializer(request.initializer, dtype, *shape, full_name);
      !s.ok()) {
    return s;
  }
  size_t bytes = 0;
  if (absl::Status s = ReserveLocked(full_name, *shape, dtype, &bytes);
      !s.ok()) {
    return s;
  }
  auto variable = std::make_shared<Variable>(full_name, dtype, *shape,
                                             request.trainable, bytes);
  variables_.emplace(full_name, variable);
  return variable;
}

absl::Status VariableStore::ReserveLocked(const std::string& full_name,
                                          absl::Span<const int64_t> shape,
                                          DType dtype, size_t* bytes) {
  absl::StatusOr<int64_t> elements = NumElements(shape);
  if (!elements.ok()) return elements.status();
  // Overflow-safe: `elements` <= INT64_MAX and the element size is at most 8.
  const size_t max_elements = options_.max_variable_bytes / DTypeSize(dtype);
  if (static_cast<uint64_t>(*elements) > max_elements) {
    return absl::ResourceExhaustedError(
        absl::StrCat("Variable ", full_name, " of shape ", ShapeToString(shape),
                     " and dtype ", DTypeName(dtype),
                     " needs more than the per-variable limit of ",
                     options_.max_variable_bytes, " bytes."));
  }
  *bytes = static_cast<size_t>(*elements) * DTypeSize(dtype);
  const size_t in_use = InUseLocked();
  if (!FitsLocked(*bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "Creating variable ", full_name, " (", *bytes,
        " bytes) would exceed the server's memory limit of ",
        options_.max_total_bytes, " bytes (", in_use, " in use)."));
  }
  total_bytes_ += *bytes;
  return absl::OkStatus();
}

absl::Status VariableStore::Initialize(
    const std::shared_ptr<Variable>& variable,
    const InitializerSpec& initializer) {
  absl::StatusOr<std::shared_ptr<TensorBuffer>> buffer =
      TensorBuffer::Allocate(variable->byte_size());
  if (!buffer.ok()) return Abandon(variable, buffer.status());
  RunInitializer(initializer, variable->dtype(), variable->shape(),
                 (*buffer)->span());
  absl::Status logged = LogCreation(
      variable, absl::string_view((*buffer)->data(), (*buffer)->size()));
  if (!logged.ok()) return Abandon(variable, logged);
  variable->Publish(*std::move(buffer));
  return absl::OkStatus();
}

absl::Status VariableStore::LogCreation(
    const std::shared_ptr<Variable>& variable, absl::string_view value) {
  if (change_log_ == nullptr) return absl::OkStatus();
  const VariableInfo info{variable->name(), variable->shape(),
                          variable->dtype(), 1, variable->trainable()};
  bool gone = false;
  absl::Status status = AppendInOrder(
      {variable}, [&] { return change_log_->AppendCreate(info, false, value); },
      &gone);
  return gone ? absl::OkStatus() : status;
}

absl::Status VariableStore::AppendInOrder(
    absl::Span<const std::shared_ptr<Variable>> variables,
    const std::function<absl::StatusOr<LogPosition>()>& append, bool* gone) {
  absl::StatusOr<LogPosition> end;
  {
    MutexLock order(&log_mu_);
    {
      MutexLock lock(&mu_);
      for (const std::shared_ptr<Variable>& variable : variables) {
        auto it = variables_.find(variable->name());
        if (it == variables_.end() || it->second != variable) {
          *gone = true;
          return NotFound(variable->name());
        }
      }
    }
    // No delete can remove them now: deletes take log_mu_.
    end = append();
  }
  if (!end.ok()) return end.status();
  return change_log_->Commit(*end);
}

absl::Status VariableStore::CommitLog(LogPosition end) {
  if (change_log_ == nullptr || end == 0) return absl::OkStatus();
  return change_log_->Commit(end);
}

absl::Status VariableStore::Abandon(const std::shared_ptr<Variable>& variable,
                                    absl::Status status) {
  {
    MutexLock lock(&mu_);
    auto it = variables_.find(variable->name());
    if (it != variables_.end() && it->second == variable) EraseLocked(it);
  }
  variable->Fail(status);
  return status;
}

void VariableStore::EraseLocked(VariableMap::iterator it) {
  total_bytes_ -= it->second->byte_size();
  variables_.erase(it);
}

absl::StatusOr<VariableSnapshot> VariableStore::ReadVariable(
    absl::string_view full_name) {
  absl::StatusOr<std::shared_ptr<Variable>> variable = Find(full_name);
  if (!variable.ok()) return variable.status();
  return (*variable)->Read();
}

absl::StatusOr<std::vector<std::shared_ptr<Variable>>> VariableStore::Under(
    absl::string_view prefix) {
  if (absl::Status s = ValidateScope(prefix); !s.ok()) return s;
  std::vector<std::shared_ptr<Variable>> matches;
  MutexLock lock(&mu_);
  for (auto it = variables_.lower_bound(prefix);
       it != variables_.end() && absl::StartsWith(it->first, prefix); ++it) {
    if (IsUnderPrefix(it->first, prefix)) matches.push_back(it->second);
  }
  return matches;
}

absl::StatusOr<std::vector<VariableInfo>> VariableStore::ListVariables(
    absl::string_view prefix) {
  absl::StatusOr<std::vector<std::shared_ptr<Variable>>> matches =
      Under(prefix);
  if (!matches.ok()) return matches.status();
  std::vector<VariableInfo> infos;
  infos.reserve(matches->size());
  for (const std::shared_ptr<Variable>& variable : *matches) {
    // A variable whose initialization failed is no longer registered.
    absl::StatusOr<VariableInfo> info = variable->Info();
    if (info.ok()) infos.push_back(*std::move(info));
  }
  return infos;
}

absl::StatusOr<std::vector<VariableStore::VariableStatus>>
VariableStore::DescribeVariables(absl::string_view prefix) {
  absl::StatusOr<std::vector<std::shared_ptr<Variable>>> matches =
      Under(prefix);
  if (!matches.ok()) return matches.status();
  std::vector<VariableStatus> described;
  described.reserve(matches->size());
  for (const std::shared_ptr<Variable>& variable : *matches) {
    absl::StatusOr<VariableInfo> info = variable->Info();
    if (!info.ok()) continue;
    described.push_back(
        {*std::move(info), variable->is_slot(), variable->last_update()});
  }
  return described;
}

absl::StatusOr<std::vector<std::string>> VariableStore::DeleteVariable(
    absl::string_view full_name) {
  if (absl::Status s = ValidateFullName(full_name, "variable name"); !s.ok()) {
    return s;
  }
  std::vector<std::string> deleted;
  LogPosition end = 0;
  // Declared before the locks, so dropped after them.
  std::vector<std::shared_ptr<StoreTable>> removed;
  {
    MutexLock order(&log_mu_);
    MutexLock lock(&mu_);
    auto it = variables_.find(full_name);
    if (it == variables_.end()) {
      auto table = tables_.find(full_name);
      if (table == tables_.end()) return NotFound(full_name);
      if (absl::Status s = DeleteTableLocked(table, &end, &removed); !s.ok()) {
        return s;
      }
      deleted.push_back(std::string(full_name));
    } else {
      if (absl::Status s = LogDeleteLocked(full_name, &end); !s.ok()) return s;
      deleted.push_back(it->first);
      EraseLocked(it);
      // An optimizer's slots go with their variable.
      for (const char* suffix : kAllSlotSuffixes) {
        auto slot = variables_.find(absl::StrCat(full_name, "/", suffix));
        if (slot != variables_.end() && slot->second->is_slot()) {
          if (absl::Status s = LogDeleteLocked(slot->first, &end); !s.ok()) {
            return s;
          }
          deleted.push_back(slot->first);
          EraseLocked(slot);
        }
      }
    }
  }
  if (absl::Status s = CommitLog(end); !s.ok()) return s;
  return deleted;
}

absl::StatusOr<std::vector<std::string>> VariableStore::DeleteScope(
    absl::string_view scope) {
  if (absl::Status s = ValidateScope(scope); !s.ok()) return s;
  std::vector<std::string> deleted;
  LogPosition end = 0;
  // Declared before the locks, so dropped after them.
  std::vector<std::shared_ptr<StoreTable>> removed;
  {
    MutexLock order(&log_mu_);
    MutexLock lock(&mu_);
    auto it = variables_.lower_bound(scope);
    while (it != variables_.end() && absl::StartsWith(it->first, scope)) {
      if (!IsUnderPrefix(it->first, scope)) {
        ++it;
        continue;
      }
      if (absl::Status s = LogDeleteLocked(it->first, &end); !s.ok()) return s;
      deleted.push_back(it->first);
      auto next = std::next(it);
      EraseLocked(it);
      it = next;
    }
    auto table = tables_.lower_bound(scope);
    while (table != tables_.end() && absl::StartsWith(table->first, scope)) {
      auto next = std::next(table);
      if (IsUnderPrefix(table->first, scope)) {
        deleted.push_back(table->first);
        if (absl::Status s = DeleteTableLocked(table, &end, &removed);
            !s.ok()) {
          return s;
        }
      }
      table = next;
    }
  }
  std::sort(deleted.begin(), deleted.end());
  if (absl::Status s = CommitLog(end); !s.ok()) return s;
  return deleted;
}

absl::Status VariableStore::LogDeleteLocked(absl::string_view name,
                                            LogPosition* end) {
  if (change_log_ == nullptr) return absl::OkStatus();
  absl::StatusOr<LogPosition> position = change_log_->AppendDelete(name);
  if (!position.ok()) return position.status();
  *end = *position;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Variable>> VariableStore::Find(
    absl::string_view full_name) {
  if (absl::Status s = ValidateFullName(full_name, "variable name"); !s.ok()) {
    return s;
  }
  MutexLock lock(&mu_);
  auto it = variables_.find(full_name);
  if (it == variables_.end()) return NotFound(full_name);
  return it->second;
}

size_t VariableStore::total_bytes() const {
  MutexLock lock(&mu_);
  return total_bytes_;
}

size_t VariableStore::num_variables() const {
  MutexLock lock(&mu_);
  return variables_.size();
}

}  // namespace paramserver
