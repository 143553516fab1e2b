#ifndef PARAM_SERVER_SERVER_PEM_CHECK_H_
#define PARAM_SERVER_SERVER_PEM_CHECK_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace paramserver {

// Checks of TLS files made before the server starts, so that a wrong file is
// a clear start-up error instead of failed handshakes once clients connect.
// `name` (a file's path) leads every message.

// OK when `pem` holds one or more certificates and nothing else that fails
// to parse; INVALID_ARGUMENT otherwise.
absl::Status CheckCertificates(absl::string_view pem, absl::string_view name);

// OK when `key_pem` holds a private key that belongs to the first
// certificate of `cert_pem` (the server's own; the rest is its chain).
absl::Status CheckKeyMatchesCertificate(absl::string_view key_pem,
                                        absl::string_view key_name,
                                        absl::string_view cert_pem,
                                        absl::string_view cert_name);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_PEM_CHECK_H_
