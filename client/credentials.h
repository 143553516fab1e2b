#ifndef PARAM_SERVER_CLIENT_CREDENTIALS_H_
#define PARAM_SERVER_CLIENT_CREDENTIALS_H_

// How a client proves itself: TLS for the channel, a bearer token on each
// call. Shared by the client library and psctl's admin calls.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "client/client.h"

namespace paramserver {

// TLS credentials from options.tls, plaintext without it.
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const ClientOptions& options);

}  // namespace paramserver

#endif  // PARAM_SERVER_CLIENT_CREDENTIALS_H_
