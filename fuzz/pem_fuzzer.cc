// libFuzzer target: the TLS file checks the server makes before it starts
// (--tls_cert, --tls_key), on arbitrary file contents. OpenSSL does the
// parsing (Debian's, not instrumented); what is fuzzed is our use of it: the
// loop over certificates, the error queue, the key match. Only OK or
// INVALID_ARGUMENT may come back, and no call may prompt for a passphrase.
//
// Input: certificate file contents, optionally "<KEY>" and a key file's.

#include <openssl/err.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/pem_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paramserver;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<absl::string_view> parts =
      absl::StrSplit(input, absl::MaxSplits("<KEY>", 1));
  absl::Status status = CheckCertificates(parts[0], "cert.pem");
  if (!status.ok() && !absl::IsInvalidArgument(status)) std::abort();
  if (parts.size() > 1) {
    status =
        CheckKeyMatchesCertificate(parts[1], "key.pem", parts[0], "cert.pem");
    if (!status.ok() && !absl::IsInvalidArgument(status)) std::abort();
  }
  // Every check leaves OpenSSL's error queue empty for the next one.
  if (ERR_peek_error() != 0) std::abort();
  return 0;
}
