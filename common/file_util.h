#ifndef PARAM_SERVER_COMMON_FILE_UTIL_H_
#define PARAM_SERVER_COMMON_FILE_UTIL_H_

// Reading a whole file (the client's and server's TLS files, tokens), and
// the mapping of errno to absl::Status that every file call here and in
// server/durability/env.h uses:
// ENOENT is NOT_FOUND; ENOSPC, EDQUOT and EFBIG (disk full, quota,
// RLIMIT_FSIZE) are RESOURCE_EXHAUSTED; EACCES, EPERM and EROFS are
// PERMISSION_DENIED; EEXIST is ALREADY_EXISTS; EIO, EINTR and EAGAIN are
// UNAVAILABLE (the device or kernel failed, the data may be fine); anything
// else is INTERNAL.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paramserver {

// `what` (e.g. "write /a/b") followed by strerror(err), with the code above.
absl::Status ErrnoToStatus(int err, absl::string_view what);

// The whole file; NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_FILE_UTIL_H_
