#include "wire/lent_bytes.h"

namespace paramserver {

grpc::Slice LentBytes::Lend(absl::string_view bytes) {
  {
    MutexLock lock(&mu_);
    ++outstanding_;
  }
  // gRPC only reads an outgoing slice; the cast is for its constructor.
  return grpc::Slice(const_cast<char*>(bytes.data()), bytes.size(),
                     &LentBytes::Return, this);
}

void LentBytes::Return(void* lender) {
  LentBytes* self = static_cast<LentBytes*>(lender);
  // Notified under the lock: once the waiter sees zero it may destroy the
  // lender, and it cannot see zero before this thread lets go of the lock.
  MutexLock lock(&self->mu_);
  --self->outstanding_;
  self->mu_.NotifyAll();
}

void LentBytes::WaitUntilReturned() {
  MutexLock lock(&mu_);
  mu_.Await([this]()
                ABSL_NO_THREAD_SAFETY_ANALYSIS { return outstanding_ == 0; });
}

int64_t LentBytes::outstanding() {
  MutexLock lock(&mu_);
  return outstanding_;
}

}  // namespace paramserver
