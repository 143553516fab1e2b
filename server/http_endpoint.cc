#include "server/http_endpoint.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/logging.h"

namespace paramserver {
namespace {

// libmicrohttpd's own reports (a client that sent garbage, a socket error),
// at warning level.
void LogLibraryMessage(void* /*unused*/, const char* format, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof(line), format, args);
  size_t length = std::strlen(line);
  while (length > 0 && line[length - 1] == '\n') line[--length] = '\0';
  Log(LogLevel::kWarning, "HTTP: ", line);
}

MHD_Result Queue(MHD_Connection* connection, const HttpResponse& response) {
  // For HEAD too: libmicrohttpd sends the length and leaves the body out.
  MHD_Response* reply = MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()),
      MHD_RESPMEM_MUST_COPY);
  if (reply == nullptr) return MHD_NO;
  MHD_add_response_header(reply, MHD_HTTP_HEADER_CONTENT_TYPE,
                          response.content_type.c_str());
  MHD_add_response_header(reply, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(reply, "X-Content-Type-Options", "nosniff");
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(reply, name.c_str(), value.c_str());
  }
  const MHD_Result queued =
      MHD_queue_response(connection, response.status, reply);
  MHD_destroy_response(reply);
  return queued;
}

MHD_Result AddArgument(void* cls, MHD_ValueKind /*kind*/, const char* key,
                       const char* value) {
  auto* args = static_cast<std::map<std::string, std::string>*>(cls);
  args->emplace(key, value == nullptr ? "" : value);
  return MHD_YES;
}

MHD_Result Answer(void* cls, MHD_Connection* connection, const char* url,
                  const char* method, const char* /*version*/,
                  const char* /*upload_data*/, size_t* upload_data_size,
                  void** /*request_state*/) {
  const auto* handler = static_cast<const HttpHandler*>(cls);
  const bool head = std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  if (!head && std::strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
    *upload_data_size = 0;  // Whatever body came is not read.
    HttpResponse refused{405,
                         "text/plain; charset=utf-8",
                         "Only GET and HEAD are served.\n",
                         {{"Allow", "GET, HEAD"}}};
    return Queue(connection, refused);
  }
  HttpRequest request;
  request.method = method;
  request.path = url;
  if (const char* authorization = MHD_lookup_connection_value(
          connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION)) {
    request.authorization = authorization;
  }
  if (const char* host = MHD_lookup_connection_value(
          connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST)) {
    request.host = host;
  }
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &AddArgument,
                            &request.args);
  return Queue(connection, (*handler)(request));
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(
    const HttpEndpointOptions& options, HttpHandler handler) {
  sockaddr_storage storage{};
  // poll(), not select(): a server with over a thousand connections open
  // gets socket numbers past select's FD_SETSIZE for its probes too.
  unsigned int flags = MHD_USE_THREAD_PER_CONNECTION |
                       MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                       MHD_USE_ERROR_LOG;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
      inet_pton(AF_INET, options.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(options.port));
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
             inet_pton(AF_INET6, options.address.c_str(), &v6->sin6_addr) ==
             1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(options.port));
    flags |= MHD_USE_IPv6;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("The HTTP address must be an IP address, got \"",
                     options.address, "\"."));
  }
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The HTTP port must be in [0, 65535], got ", options.port, "."));
  }
  if (options.tls_cert_chain.empty() != options.tls_private_key.empty()) {
    return absl::InvalidArgumentError(
        "HTTPS needs both a certificate chain and its private key.");
  }
  std::unique_ptr<HttpEndpoint> endpoint(
      new HttpEndpoint(options.address, std::move(handler)));
  endpoint->tls_cert_chain_ = options.tls_cert_chain;
  endpoint->tls_private_key_ = options.tls_private_key;
  // Passed through MHD_OPTION_ARRAY: empty without TLS.
  std::vector<MHD_OptionItem> tls_options;
  if (endpoint->tls()) {
    flags |= MHD_USE_TLS;
    tls_options.push_back(
        {MHD_OPTION_HTTPS_MEM_CERT, 0,
         const_cast<char*>(endpoint->tls_cert_chain_.c_str())});
    tls_options.push_back(
        {MHD_OPTION_HTTPS_MEM_KEY, 0,
         const_cast<char*>(endpoint->tls_private_key_.c_str())});
  }
  tls_options.push_back({MHD_OPTION_END, 0, nullptr});
  endpoint->daemon_ = MHD_start_daemon(
      flags, 0, /*accept policy=*/nullptr, nullptr, &Answer,
      const_cast<HttpHandler*>(&endpoint->handler_),
      // First, so that every message of the daemon goes to our log.
      MHD_OPTION_EXTERNAL_LOGGER, &LogLibraryMessage, nullptr,
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&storage),
      MHD_OPTION_CONNECTION_LIMIT,
      static_cast<unsigned int>(options.max_connections),
      MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      static_cast<unsigned int>(std::max(1, options.max_connections / 2)),
      MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned int>(options.idle_timeout_seconds),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, options.max_request_bytes,
      MHD_OPTION_ARRAY, tls_options.data(), MHD_OPTION_END);
  if (endpoint->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "Could not serve HTTP", endpoint->tls() ? "S" : "", " on ",
        options.address, ":", options.port,
        endpoint->tls()
            ? " (address in use, not an address of this host, or a TLS "
              "certificate and key GnuTLS cannot use)."
            : " (address in use, or not an address of this host)."));
  }
  const MHD_DaemonInfo* info =
      MHD_get_daemon_info(endpoint->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  endpoint->port_ = info != nullptr ? info->port : options.port;
  return endpoint;
}

HttpEndpoint::~HttpEndpoint() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

std::string HttpEndpoint::target() const {
  if (address_.find(':') != std::string::npos) {
    return absl::StrCat("[", address_, "]:", port_);
  }
  return absl::StrCat(address_, ":", port_);
}

}  // namespace paramserver
