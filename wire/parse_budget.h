#ifndef PARAM_SERVER_WIRE_PARSE_BUDGET_H_
#define PARAM_SERVER_WIRE_PARSE_BUDGET_H_

// What parsing a message would cost, counted on the wire before parsing.
//
// Protobuf builds an object for every repeated message, string and unknown
// field it reads, and an 8-byte element for every repeated number: a few
// bytes on the wire can cost 30 to 60 bytes of memory. A 64 MiB request of
// empty repeated items (each two bytes) would make the server allocate some
// 2 GB before any check of its content ran. The walk below follows the
// message's descriptor through the wire format without building anything
// and estimates the memory the parse would take, so that such a request is
// refused before it is parsed.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/zero_copy_stream.h>

#include <cstddef>

#include "absl/status/statusor.h"

namespace paramserver {

// Memory a parse may take beyond the bytes it parses. Generous for every
// request the protocol means (65,536 updates of a push with names, shapes
// and initializers come to some 20 MiB), and a bound on every other.
inline constexpr size_t kMaxParseOverheadBytes = size_t{64} << 20;

// An upper estimate of the memory parsing `input` as `type` takes: for each
// message, string, bytes or unknown field a fixed cost plus its length, for
// each element of a repeated number twice its size (arrays grow by
// doubling). Stops at malformed bytes (the parse itself reports them) and
// returns the estimate so far.
size_t EstimateParseBytes(const google::protobuf::Descriptor& type,
                          google::protobuf::io::ZeroCopyInputStream* input);

// INVALID_ARGUMENT naming the message when parsing `wire_bytes` bytes from
// `input` as `type` would take more than wire_bytes + kMaxParseOverheadBytes.
absl::Status CheckParseBudget(const google::protobuf::Descriptor& type,
                              size_t wire_bytes,
                              google::protobuf::io::ZeroCopyInputStream* input);

}  // namespace paramserver

#endif  // PARAM_SERVER_WIRE_PARSE_BUDGET_H_
