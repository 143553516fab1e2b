#include "common/loopback.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "absl/strings/strip.h"

namespace paramserver {

bool IsLoopbackAddress(absl::string_view address) {
  if (address == "localhost") return true;
  if (absl::ConsumePrefix(&address, "[")) absl::ConsumeSuffix(&address, "]");
  const std::string text(address);
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  return inet_pton(AF_INET6, text.c_str(), &v6) == 1 &&
         IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace paramserver
