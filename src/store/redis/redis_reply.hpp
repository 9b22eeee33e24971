#pragma once
// A Redis reply as a value, copied out of hiredis's redisReply so it outlives
// the callback that received it (RESP2: what hiredis 0.14 speaks).
#include <cstdint>
#include <string>
#include <vector>

namespace steward::store::redis {

struct Reply {
  enum class Type { Nil, String, Status, Integer, Array };
  Type type = Type::Nil;
  std::string text;          // String and Status
  std::int64_t integer = 0;  // Integer
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::Nil; }
  // A bulk string, or "" for nil (a missing key or field).
  const std::string& str() const { return text; }
};

// One command: its name and arguments, binary-safe.
using Command = std::vector<std::string>;

}  // namespace steward::store::redis
