#ifndef PARAM_SERVER_SERVER_HTTP_ENDPOINT_H_
#define PARAM_SERVER_SERVER_HTTP_ENDPOINT_H_
// A small HTTP/1.1 server for operators (metrics, health), over GNU
// libmicrohttpd, plaintext or HTTPS: GET and HEAD only, a thread per
// connection (a slow scrape does not hold up a probe), at most
// max_connections of them and half that from one IP address, bounded
// request sizes and idle time. A client that
// trickles bytes can still hold a connection; a flood from many addresses
// can fill the port (never the gRPC side).

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct MHD_Daemon;

namespace paramserver {

struct HttpRequest {
  std::string method;         // "GET" or "HEAD".
  std::string path;           // Without the query string.
  std::string authorization;  // The Authorization header, or "".
  std::string host;           // The Host header, or "".
  // The query string's arguments, decoded; the first of a repeated name.
  std::map<std::string, std::string> args;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Extra headers, e.g. {"WWW-Authenticate", "Bearer"}.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Called on the connections' threads, possibly at once: thread-safe.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpEndpointOptions {
  std::string address = "127.0.0.1";  // An IPv4 or IPv6 literal.
  int port = 0;                       // 0 picks a free port.
  int max_connections = 64;           // And half of them from one address.
  // A connection idle this long is closed (slow clients).
  int idle_timeout_seconds = 10;
  // Per connection, for the request line and headers: larger requests are
  // answered 431 (headers) or 413 and closed.
  size_t max_request_bytes = 32 << 10;
  // PEM; both set: HTTPS only (GnuTLS through libmicrohttpd). Read once, at
  // start. Client certificates are not asked for.
  std::string tls_cert_chain;
  std::string tls_private_key;
};

class HttpEndpoint {
 public:
  // UNAVAILABLE when the address cannot be bound (or the TLS certificate
  // and key are unusable); INVALID_ARGUMENT when it is not an IP literal or
  // only one of the TLS certificate and key is given.
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(
      const HttpEndpointOptions& options, HttpHandler handler);
  ~HttpEndpoint();  // Stops serving; returns once no handler runs.

  int port() const { return port_; }
  bool tls() const { return !tls_cert_chain_.empty(); }
  // "address:port" ("[::1]:port" for IPv6).
  std::string target() const;

 private:
  HttpEndpoint(std::string address, HttpHandler handler)
      : address_(std::move(address)), handler_(std::move(handler)) {}

  const std::string address_;
  const HttpHandler handler_;
  // libmicrohttpd keeps pointers to these for the daemon's lifetime.
  std::string tls_cert_chain_;
  std::string tls_private_key_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_HTTP_ENDPOINT_H_
