#include "server/http_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace paramserver {

absl::StatusOr<HttpReply> SendHttp(int port, const std::string& request,
                                   int timeout_seconds) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError(std::strerror(errno));
  timeval timeout{timeout_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(error);
  }
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // The server may close early (a refused request).
    sent += static_cast<size_t>(n);
  }
  std::string received;
  char buffer[65536];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    received.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  const size_t end = received.find("\r\n\r\n");
  int status = 0;
  if (end == std::string::npos || received.size() < 12 ||
      !absl::SimpleAtoi(received.substr(9, 3), &status)) {
    return absl::DataLossError(
        absl::StrCat("Not an HTTP response: \"", received, "\""));
  }
  return HttpReply{status, received.substr(0, end), received.substr(end + 4)};
}

absl::StatusOr<HttpReply> HttpGet(int port, const std::string& path,
                                  const std::string& token) {
  std::string request = absl::StrCat("GET ", path,
                                     " HTTP/1.1\r\nHost: localhost\r\n"
                                     "Connection: close\r\n");
  if (!token.empty()) {
    absl::StrAppend(&request, "Authorization: Bearer ", token, "\r\n");
  }
  request += "\r\n";
  return SendHttp(port, request);
}

}  // namespace paramserver
