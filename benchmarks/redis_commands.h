#ifndef PARAM_SERVER_BENCHMARKS_REDIS_COMMANDS_H_
#define PARAM_SERVER_BENCHMARKS_REDIS_COMMANDS_H_

// The Redis commands the benchmarks send the peer, over hiredis, with
// binary-safe keys and values. Each one exits the benchmark with a message
// when Redis fails: a benchmark has no use for a half-measured run.

#include <hiredis/hiredis.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace paramserver {

[[noreturn]] void DieWith(const std::string& what);

// MGET of `keys`: one element per key, nil for a missing one. The caller
// frees the reply.
redisReply* MgetOrNil(redisContext* context,
                      const std::vector<std::string>& keys);

// MSET of (key, value) pairs in one command.
void Mset(
    redisContext* context,
    absl::Span<const std::pair<absl::string_view, absl::string_view>> pairs);

// INFO memory's used_memory: the bytes Redis's allocator holds for data and
// its own structures.
int64_t RedisUsedMemory(redisContext* context);

}  // namespace paramserver

#endif  // PARAM_SERVER_BENCHMARKS_REDIS_COMMANDS_H_
