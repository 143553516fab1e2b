#ifndef PARAM_SERVER_COMMON_HTTP_CLIENT_H_
#define PARAM_SERVER_COMMON_HTTP_CLIENT_H_
// One HTTP/1.1 request over a plain TCP socket, read until the server
// closes the connection: for `psctl stats` and for tests of ps_server's
// HTTP port. Not a general HTTP client: no TLS, no redirects, no chunked
// bodies (ps_server's port sends none).

#include <string>

#include "absl/status/statusor.h"

namespace paramserver {

struct HttpReply {
  int status = 0;
  std::string headers;  // The status line and headers, as received.
  std::string body;
};

// Sends `request` (the whole request text, "GET / HTTP/1.1\r\n...\r\n\r\n")
// to `host` (a name or an IP literal, IPv6 with or without brackets) at
// `port` and reads until the server closes the connection or
// `timeout_seconds` pass. UNAVAILABLE when no address of the host answers;
// DATA_LOSS when the reply is not HTTP.
absl::StatusOr<HttpReply> SendHttp(const std::string& host, int port,
                                   const std::string& request,
                                   int timeout_seconds = 10);
// The same to 127.0.0.1.
absl::StatusOr<HttpReply> SendHttp(int port, const std::string& request,
                                   int timeout_seconds = 10);

// GET `path` with "Connection: close" and, when not empty, "Authorization:
// Bearer <token>".
absl::StatusOr<HttpReply> HttpGet(const std::string& host, int port,
                                  const std::string& path,
                                  const std::string& token = "");
absl::StatusOr<HttpReply> HttpGet(int port, const std::string& path,
                                  const std::string& token = "");

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_HTTP_CLIENT_H_
