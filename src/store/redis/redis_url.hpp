#pragma once
// The --store URL of a Redis store:
//   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?prefix=P&timeout=S]
//   unix:///path/to/redis.sock[?db=N&prefix=P&timeout=S]
// The password may instead come from STEWARD_REDIS_PASSWORD. It never
// appears in `shown`, the form every log line and error message uses.
#include <chrono>
#include <string>

#include "core/result.hpp"

namespace steward::store::redis {

struct Endpoint {
  std::string unix_path;  // set for unix://, else host and port
  std::string host;
  int port = 6379;
  int db = 0;
  std::string user;  // Redis 6 ACL user; empty for the default user
  std::string password;
  std::string prefix = "steward:";  // every key starts with it
  std::chrono::milliseconds reply_timeout{10'000};
  std::string shown;  // the URL with the password masked
};

// `env_password` is STEWARD_REDIS_PASSWORD (empty when unset); the URL's wins.
// InvalidArgument, naming the masked URL, for anything malformed; rediss://
// is refused (Debian's hiredis 0.14 has no TLS).
Result<Endpoint> parse_redis_url(const std::string& url, const std::string& env_password);

// True for the schemes parse_redis_url() takes (and rediss://, which it refuses).
bool is_redis_url(const std::string& url);

}  // namespace steward::store::redis
