// Sanitizer suppressions, compiled into every binary that links them (all of
// ours, through //third_party:absl), so no suppressions file has to be found
// at test time. Harmless without the sanitizers.
//
// Debian's gRPC, abseil and oneDNN are prebuilt without TSan instrumentation:
// TSan sees only the calls it intercepts, not their own atomics and locks, so
// it reports their internal hand-offs (gRPC's epoll poller handing events to
// its threads, absl::Mutex's deadlock-detection graph) as races. Any report
// with a frame in those libraries is about code TSan cannot see into.
// Our own synchronisation uses std::mutex (common/mutex.h), which TSan does
// see, so races in our code are still reported.
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libgrpc.so\n"
         "called_from_lib:libabsl_synchronization.so\n"
         "called_from_lib:libabsl_graphcycles_internal.so\n"
         "race:libgrpc.so\n"
         "race:libgrpc++.so\n"
         "race:libgpr.so\n"
         "race:libabsl_\n"
         // oneDNN and its OpenMP runtime (libgomp), also uninstrumented: the
         // worker threads of one primitive hand buffers over through libgomp's
         // barriers, which TSan cannot see.
         "called_from_lib:libdnnl.so\n"
         "called_from_lib:libgomp.so\n"
         "race:libdnnl.so\n"
         "race:libgomp.so\n"
         // OpenSSL (under gRPC's TLS), uninstrumented as well.
         "called_from_lib:libcrypto.so\n"
         "called_from_lib:libssl.so\n"
         "race:libcrypto.so\n"
         "race:libssl.so\n"
         // gRPC's header-inline client code reading a status that a gRPC
         // thread filled in and handed over through the completion queue.
         "race:grpc::internal::CallOpClientRecvStatus::FinishOp\n"
         // The same hand-over for a received message: the header-inline
         // reader over the ByteBuffer a gRPC thread filled (seen once, in
         // rows_e2e_test's concurrent gathers, the reply's buffer reused
         // by gRPC's uninstrumented allocator).
         "race:grpc::ProtoBufferReader::Next\n"
         // gRPC's executor threads (resolver-executor, default-executor) are
         // started on demand and, in Debian's 1.51, may still be running
         // or unjoined when the process exits; TSan calls that a thread leak.
         // Their creation stack shows only libgpr's thread wrapper, so this
         // also hides the leak of a gRPC thread that our own code would
         // cause by not shutting a server or channel down.
         "thread:libgpr.so\n";
}

// LeakSanitizer: Debian's gRPC keeps process-lifetime allocations in its TLS
// stack (credentials, handshaker caches) that it never frees before exit.
// Our own leaks are still reported.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libgpr.so\n"
         "leak:libgrpc.so\n";
}
