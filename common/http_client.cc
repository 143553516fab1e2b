#include "common/http_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace paramserver {
namespace {

// A socket connected to one of `host`'s addresses, or the error.
absl::StatusOr<int> Connect(const std::string& host, int port,
                            int timeout_seconds) {
  absl::string_view name = host;
  if (absl::ConsumePrefix(&name, "[")) absl::ConsumeSuffix(&name, "]");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = absl::StrCat(port);
  if (const int error = getaddrinfo(std::string(name).c_str(), service.c_str(),
                                    &hints, &found);
      error != 0) {
    return absl::UnavailableError(
        absl::StrCat("Cannot resolve ", host, ": ", gai_strerror(error)));
  }
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* address = found; address != nullptr;
       address = address->ai_next) {
    fd = socket(address->ai_family, address->ai_socktype, address->ai_protocol);
    if (fd < 0) continue;
    timeval timeout{timeout_seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    if (connect(fd, address->ai_addr, address->ai_addrlen) == 0) break;
    last_error = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("Cannot connect to ", host, ":", port, ": ", last_error));
  }
  return fd;
}

}  // namespace

absl::StatusOr<HttpReply> SendHttp(const std::string& host, int port,
                                   const std::string& request,
                                   int timeout_seconds) {
  absl::StatusOr<int> fd = Connect(host, port, timeout_seconds);
  if (!fd.ok()) return fd.status();
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n =
        send(*fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // The server may close early (a refused request).
    sent += static_cast<size_t>(n);
  }
  std::string received;
  char buffer[65536];
  while (true) {
    const ssize_t n = recv(*fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    received.append(buffer, static_cast<size_t>(n));
  }
  close(*fd);
  const size_t end = received.find("\r\n\r\n");
  int status = 0;
  if (end == std::string::npos || received.size() < 12 ||
      !absl::SimpleAtoi(received.substr(9, 3), &status)) {
    return absl::DataLossError(absl::StrCat("Not an HTTP response: \"",
                                            received.substr(0, 200), "\""));
  }
  return HttpReply{status, received.substr(0, end), received.substr(end + 4)};
}

absl::StatusOr<HttpReply> SendHttp(int port, const std::string& request,
                                   int timeout_seconds) {
  return SendHttp("127.0.0.1", port, request, timeout_seconds);
}

absl::StatusOr<HttpReply> HttpGet(const std::string& host, int port,
                                  const std::string& path,
                                  const std::string& token) {
  std::string request = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", host,
                                     "\r\nConnection: close\r\n");
  if (!token.empty()) {
    absl::StrAppend(&request, "Authorization: Bearer ", token, "\r\n");
  }
  request += "\r\n";
  return SendHttp(host, port, request);
}

absl::StatusOr<HttpReply> HttpGet(int port, const std::string& path,
                                  const std::string& token) {
  return HttpGet("127.0.0.1", port, path, token);
}

}  // namespace paramserver
