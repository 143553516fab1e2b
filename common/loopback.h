#ifndef PARAM_SERVER_COMMON_LOOPBACK_H_
#define PARAM_SERVER_COMMON_LOOPBACK_H_

#include "absl/strings/string_view.h"

namespace paramserver {

// True for "localhost", 127.0.0.0/8 and ::1 (bracketed or not): addresses
// whose traffic never leaves the host, where plaintext is acceptable.
bool IsLoopbackAddress(absl::string_view address);

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_LOOPBACK_H_
