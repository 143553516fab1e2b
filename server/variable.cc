#include "server/variable.h"

#include <cstring>
#include <utility>

namespace paramserver {

Variable::Variable(std::string name, DType dtype, TensorShape shape,
                   bool trainable, size_t byte_size)
    : name_(std::move(name)),
      dtype_(dtype),
      shape_(std::move(shape)),
      trainable_(trainable),
      byte_size_(byte_size) {}

void Variable::Publish(std::shared_ptr<TensorBuffer> value, int64_t version) {
  {
    MutexLock lock(&mu_);
    value_ = std::move(value);
    version_ = version;
    Touch();
  }
  mu_.NotifyAll();
}

void Variable::Fail(absl::Status status) {
  {
    MutexLock lock(&mu_);
    init_status_ = std::move(status);
  }
  mu_.NotifyAll();
}

bool Variable::Settled() const { return version_ > 0 || !init_status_.ok(); }

VariableInfo Variable::InfoLocked() const {
  return VariableInfo{name_, shape_, dtype_, version_, trainable_};
}

absl::StatusOr<VariableSnapshot> Variable::Read() const {
  MutexLock lock(&mu_);
  mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return Settled(); });
  if (!init_status_.ok()) return init_status_;
  return VariableSnapshot{InfoLocked(), value_};
}

absl::StatusOr<VariableInfo> Variable::Info() const {
  MutexLock lock(&mu_);
  mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return Settled(); });
  if (!init_status_.ok()) return init_status_;
  return InfoLocked();
}

}  // namespace paramserver

namespace paramserver {

absl::Status Variable::LockForUpdate() {
  mu_.Lock();
  mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return Settled(); });
  return init_status_;
}

absl::StatusOr<char*> Variable::MutableValueLocked() {
  // Every other holder got its copy under mu_, which we hold, so a count of
  // one cannot grow behind our back. (It can shrink; then we copy needlessly.)
  if (value_.use_count() > 1) {
    absl::StatusOr<std::shared_ptr<TensorBuffer>> copy =
        TensorBuffer::Allocate(value_->size());
    if (!copy.ok()) return copy.status();
    if (value_->size() > 0) {
      std::memcpy((*copy)->data(), value_->data(), value_->size());
    }
    value_ = *std::move(copy);
  }
  return value_->data();
}

}  // namespace paramserver
