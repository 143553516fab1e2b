#ifndef PARAM_SERVER_SERVER_HTTP_TEST_CLIENT_H_
#define PARAM_SERVER_SERVER_HTTP_TEST_CLIENT_H_
// For tests: one HTTP/1.1 request over a real loopback socket.

#include <string>

#include "absl/status/statusor.h"

namespace paramserver {

struct HttpReply {
  int status = 0;
  std::string headers;  // The status line and headers, as received.
  std::string body;
};

// Sends `request` (the whole request text, "GET / HTTP/1.1\r\n...\r\n\r\n")
// to 127.0.0.1:`port` and reads until the server closes the connection or
// `timeout_seconds` pass.
absl::StatusOr<HttpReply> SendHttp(int port, const std::string& request,
                                   int timeout_seconds = 10);

// GET `path` with "Connection: close" and, when not empty, "Authorization:
// Bearer <token>".
absl::StatusOr<HttpReply> HttpGet(int port, const std::string& path,
                                  const std::string& token = "");

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_HTTP_TEST_CLIENT_H_
