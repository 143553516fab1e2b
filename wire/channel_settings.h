#ifndef PARAM_SERVER_WIRE_CHANNEL_SETTINGS_H_
#define PARAM_SERVER_WIRE_CHANNEL_SETTINGS_H_

// The transport settings both ends of a channel use, and the message and
// chunk sizes they agree on. Why each value, and what it bought on the
// data-plane benchmark, is said where it is applied: client/client.cc
// (Connect) and server/grpc_server.cc (Start).

#include <cstdint>

namespace paramserver {

// ---- HTTP/2 and TCP, the same on both ends. ----

// Each stream's fixed receive window (BDP probing off).
inline constexpr int kStreamWindowBytes = 8 << 20;
// HTTP/2's largest allowed SETTINGS_MAX_FRAME_SIZE.
inline constexpr int kMaxFrameBytes = (1 << 24) - 1;
// Socket reads: at least this much, starting at kTcpReadChunkBytes.
inline constexpr int kTcpMinReadChunkBytes = 256 << 10;
inline constexpr int kTcpReadChunkBytes = 1 << 20;

// ---- Keepalive. ----

// The client pings no more often than this (a floor on ClientOptions), and
// the server accepts pings without data this often.
inline constexpr int kMinPingIntervalMs = 5000;
// Floor on ClientOptions::keepalive_timeout.
inline constexpr int kMinKeepaliveTimeoutMs = 10000;
// The server pings a client after this much silence and drops it when the
// ping is not answered within kServerKeepaliveTimeoutMs.
inline constexpr int kServerKeepaliveTimeMs = 60000;
inline constexpr int kServerKeepaliveTimeoutMs = 20000;
// A client retries a server that went away at most this often.
inline constexpr int kMaxReconnectBackoffMs = 5000;

// ---- Message and chunk sizes. ----

// Largest message the server accepts: larger pushes come in chunks
// (PushChunks), so unary requests stay below it.
inline constexpr int kMaxReceiveMessageBytes = 64 << 20;
// Values up to this size come inline in a Pull response (the client asks
// for it); larger ones are streamed with PullChunks.
inline constexpr int64_t kClientInlineBytes = 4 << 20;
// Chunk sizes a client may ask PullChunks for; 0 selects
// kDefaultChunkBytes. The client pushes in chunks of kDefaultChunkBytes too.
inline constexpr int64_t kMinChunkBytes = 4 << 10;
inline constexpr int64_t kMaxChunkBytes = 16 << 20;
inline constexpr int64_t kDefaultChunkBytes = 1 << 20;

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_CHANNEL_SETTINGS_H_
