#ifndef PARAM_SERVER_SERVER_GRPC_SESSION_H_
#define PARAM_SERVER_SERVER_GRPC_SESSION_H_

// ParameterServerSessions: small calls over long-lived streams, with the
// same semantics as the unary RPCs, since they run the same handlers
// (server/variable_service.h).

#include <grpcpp/grpcpp.h>

#include "absl/container/flat_hash_set.h"
#include "common/mutex.h"
#include "proto/parameter_server.grpc.pb.h"
#include "server/auth.h"
#include "server/variable_service.h"

namespace paramserver {

// The open sessions. A session only ends when its client closes it, so a
// server shutting down must cancel them, or it would wait out its whole grace
// period for clients that merely keep a session for their next call.
// Thread-safe.
class SessionRegistry {
 public:
  // False once CancelAll ran: the session must end at once.
  bool Add(grpc::CallbackServerContext* context) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(grpc::CallbackServerContext* context) ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels every open session and every later one.
  void CancelAll() ABSL_LOCKS_EXCLUDED(mu_);
  size_t open() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable Mutex mu_;
  // A context stays valid until its reactor's OnDone removes it.
  absl::flat_hash_set<grpc::CallbackServerContext*> open_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// The Session method (raw: SessionRequests in, SessionResponses out;
// server/grpc_raw_call.h): answers each request with one response, in order,
// until the client closes the stream. A stream without a known token is
// refused at open (UNAUTHENTICATED), as the unary methods are; then each
// call is authorized on its own, and a denied call, or bytes that do not
// parse (INVALID_ARGUMENT), get their status in their response.
// Thread-safe; `service` and `tokens` must outlive it. A null `tokens` turns
// authentication off.
class SessionService final
    : public rpc::ParameterServerSessions::WithRawCallbackMethod_Session<
          rpc::ParameterServerSessions::Service> {
 public:
  SessionService(VariableService* service, const TokenTable* tokens)
      : service_(service), tokens_(tokens) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Session(
      grpc::CallbackServerContext* context) override;

  // Ends every session, open or later; for shutdown (see SessionRegistry).
  void CancelAll() { registry_.CancelAll(); }
  size_t open_sessions() const { return registry_.open(); }

 private:
  VariableService* const service_;
  const TokenTable* const tokens_;
  SessionRegistry registry_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_GRPC_SESSION_H_
