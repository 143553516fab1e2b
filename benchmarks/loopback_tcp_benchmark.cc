// What loopback TCP carries on this machine: the ceiling for moving a
// variable between two processes. A sender process writes messages of
// --message_bytes in writes of --write_bytes to a receiver process, which
// reads each whole into one buffer it reuses (as PullInto does) and answers
// with one byte, so each message is a round trip like a pull or a push.
// Both buffers are faulted in first; nothing else is measured.
//
//   loopback_tcp_benchmark --message_bytes=67108864 --write_bytes=1048576
//
// Prints one JSON line: gigabytes (1e9) per second.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"

ABSL_FLAG(int64_t, message_bytes, int64_t{64} << 20, "Bytes per message.");
ABSL_FLAG(int64_t, write_bytes, int64_t{1} << 20, "Bytes per write call.");
ABSL_FLAG(double, min_seconds, 5, "Timed seconds, at least.");
ABSL_FLAG(int, warmup, 2, "Untimed messages first.");

namespace {

bool ReadFully(int fd, char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = read(fd, data, size);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteFully(int fd, const char* data, size_t size, size_t chunk) {
  while (size > 0) {
    const ssize_t n = write(fd, data, std::min(size, chunk));
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Receives messages until the sender closes; answers each with one byte.
int Receive(int listener, size_t message_bytes) {
  const int fd = accept(listener, nullptr, nullptr);
  if (fd < 0) return 1;
  std::vector<char> buffer(message_bytes, 1);  // Faulted in.
  char ack = 0;
  while (ReadFully(fd, buffer.data(), buffer.size())) {
    if (write(fd, &ack, 1) != 1) return 1;
  }
  close(fd);
  return 0;
}

int Run() {
  const size_t message_bytes = absl::GetFlag(FLAGS_message_bytes);
  const size_t write_bytes = absl::GetFlag(FLAGS_write_bytes);
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) !=
          0) {
    std::perror("listen");
    return 1;
  }
  const pid_t receiver = fork();
  if (receiver == 0) _exit(Receive(listener, message_bytes));
  close(listener);

  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    std::perror("connect");
    return 1;
  }
  const std::vector<char> message(message_bytes, 2);  // Faulted in.
  const auto round_trip = [&]() {
    char ack;
    return WriteFully(fd, message.data(), message.size(), write_bytes) &&
           ReadFully(fd, &ack, 1);
  };
  for (int i = 0; i < absl::GetFlag(FLAGS_warmup); ++i) {
    if (!round_trip()) return 1;
  }
  const absl::Time start = absl::Now();
  int messages = 0;
  double seconds = 0;
  do {
    if (!round_trip()) return 1;
    ++messages;
    seconds = absl::ToDoubleSeconds(absl::Now() - start);
  } while (seconds < absl::GetFlag(FLAGS_min_seconds));
  close(fd);
  int status = 0;
  waitpid(receiver, &status, 0);
  std::printf(
      "{\"peer\": \"loopback TCP (plain sockets)\", \"message_bytes\": %zu, "
      "\"write_bytes\": %zu, \"messages_per_second\": %.3f, "
      "\"gb_per_second\": %.3f}\n",
      message_bytes, write_bytes, messages / seconds,
      messages * static_cast<double>(message_bytes) / seconds / 1e9);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return Run();
}
