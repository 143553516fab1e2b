#include "client/credentials.h"

#include <cstdlib>

#include "common/file_util.h"

namespace paramserver {

absl::StatusOr<ClientTlsOptions> LoadClientTls(const std::string& ca_path,
                                               const std::string& cert_path,
                                               const std::string& key_path) {
  if (cert_path.empty() != key_path.empty()) {
    return absl::InvalidArgumentError(
        "A client certificate needs its key, and a key its certificate.");
  }
  ClientTlsOptions tls;
  for (auto [path, pem] : {std::pair{&ca_path, &tls.root_certs},
                           std::pair{&cert_path, &tls.cert_chain},
                           std::pair{&key_path, &tls.private_key}}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> contents = ReadFile(*path);
    if (!contents.ok()) return contents.status();
    *pem = *std::move(contents);
  }
  return tls;
}

absl::Status SetTlsAndToken(const std::string& ca_path,
                            const std::string& cert_path,
                            const std::string& key_path,
                            const std::string& token, ClientOptions& options) {
  if (!ca_path.empty() || !cert_path.empty() || !key_path.empty()) {
    absl::StatusOr<ClientTlsOptions> tls =
        LoadClientTls(ca_path, cert_path, key_path);
    if (!tls.ok()) return tls.status();
    options.tls = *std::move(tls);
  }
  options.token = token;
  if (const char* env = std::getenv("PS_TOKEN"); options.token.empty() && env) {
    options.token = env;
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const ClientOptions& options) {
  if (!options.tls.has_value()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.tls->root_certs;
  ssl.pem_cert_chain = options.tls->cert_chain;
  ssl.pem_private_key = options.tls->private_key;
  return grpc::SslCredentials(ssl);
}

}  // namespace paramserver
