#include "server/caller.h"

#include "server/logging.h"

namespace paramserver {

absl::Status Caller::Authorize(Action action,
                               absl::Span<const std::string> names) const {
  if (tokens_ == nullptr) return absl::OkStatus();
  absl::Status status = token_.ok() ? tokens_->Authorize(*token_, action, names)
                                    : token_.status();
  if (!status.ok()) {
    Log(LogLevel::kDebug, "Denied ", ActionName(action), " from ", peer_, ": ",
        status.message());
  }
  return status;
}

}  // namespace paramserver
