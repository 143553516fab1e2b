#include "benchmarks/redis_commands.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"

namespace paramserver {

void DieWith(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::exit(1);
}

redisReply* MgetOrNil(redisContext* context,
                      const std::vector<std::string>& keys) {
  std::vector<const char*> argv = {"MGET"};
  std::vector<size_t> lengths = {4};
  for (const std::string& key : keys) {
    argv.push_back(key.data());
    lengths.push_back(key.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(
      context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY ||
      reply->elements != keys.size()) {
    DieWith("MGET failed");
  }
  return reply;
}

void Mset(
    redisContext* context,
    absl::Span<const std::pair<absl::string_view, absl::string_view>> pairs) {
  std::vector<const char*> argv = {"MSET"};
  std::vector<size_t> lengths = {4};
  for (const auto& [key, value] : pairs) {
    argv.push_back(key.data());
    lengths.push_back(key.size());
    argv.push_back(value.data());
    lengths.push_back(value.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(
      context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
    DieWith("MSET failed");
  }
  freeReplyObject(reply);
}

int64_t RedisUsedMemory(redisContext* context) {
  auto* reply = static_cast<redisReply*>(redisCommand(context, "INFO memory"));
  if (reply == nullptr || reply->type != REDIS_REPLY_STRING) {
    DieWith("INFO memory failed");
  }
  const std::string info(reply->str, reply->len);
  freeReplyObject(reply);
  const std::string field = "used_memory:";
  const size_t at = info.find(field);
  if (at == std::string::npos) DieWith("no used_memory in INFO memory");
  const size_t end = info.find('\r', at);
  int64_t bytes = 0;
  if (!absl::SimpleAtoi(info.substr(at + field.size(), end - at - field.size()),
                        &bytes)) {
    DieWith("bad used_memory in INFO memory");
  }
  return bytes;
}

}  // namespace paramserver
