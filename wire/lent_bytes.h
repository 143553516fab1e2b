#ifndef PARAM_SERVER_WIRE_LENT_BYTES_H_
#define PARAM_SERVER_WIRE_LENT_BYTES_H_

// Memory lent to gRPC for one call: slices over the caller's bytes instead
// of copies of them, so that a pushed gradient goes from the caller's buffer
// to the socket with no copy in between. gRPC may hold a slice until its
// transport is done with it, which can be after the call has finished; the
// lender counts the slices gRPC still holds and WaitUntilReturned blocks
// until there are none, after which the memory is the caller's again.

#include <grpcpp/grpcpp.h>

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "common/mutex.h"

namespace paramserver {

class LentBytes {
 public:
  LentBytes() = default;
  // Waits for every slice to come back.
  ~LentBytes() { WaitUntilReturned(); }

  LentBytes(const LentBytes&) = delete;
  LentBytes& operator=(const LentBytes&) = delete;

  // A slice over `bytes`, which must stay valid and unchanged until
  // WaitUntilReturned has returned.
  grpc::Slice Lend(absl::string_view bytes);

  // Blocks until gRPC has released every slice Lend made.
  void WaitUntilReturned();

  // Slices gRPC holds now.
  int64_t outstanding();

 private:
  static void Return(void* lender);

  Mutex mu_;
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_LENT_BYTES_H_
