#include "store/redis/redis_url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>

namespace steward::store::redis {
namespace {

bool starts_with(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

// The URL with whatever stands between "//" and "@" reduced to the user and
// "***", found without parsing so that even a malformed URL is shown masked.
std::string masked(const std::string& url) {
  auto authority = url.find("//");
  if (authority == std::string::npos) return url;
  authority += 2;
  auto end = url.find_first_of("/?#", authority);
  auto at = url.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at == std::string::npos || at < authority) return url;
  auto colon = url.find(':', authority);
  std::string user = url.substr(authority, (colon != std::string::npos && colon < at ? colon : at) - authority);
  return url.substr(0, authority) + user + ":***" + url.substr(at);
}

Error invalid(const std::string& shown, const std::string& why) {
  return make_error(ErrorCode::InvalidArgument, "bad store URL '" + shown + "': " + why);
}

Result<int> parse_number(const std::string& shown, std::string_view what, std::string_view text, int max) {
  int value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > max)
    return invalid(shown, std::string(what) + " must be a number from 0 to " + std::to_string(max));
  return value;
}

Status apply_query(const boost::urls::url_view& url, Endpoint& endpoint) {
  for (auto param : url.params()) {
    if (param.key == "db") {
      auto db = parse_number(endpoint.shown, "db", param.value, 1'000'000);
      if (!db) return db.error();
      endpoint.db = *db;
    } else if (param.key == "prefix") {
      endpoint.prefix = param.value;
    } else if (param.key == "timeout") {
      auto seconds = parse_number(endpoint.shown, "timeout", param.value, 3600);
      if (!seconds) return seconds.error();
      if (*seconds == 0) return invalid(endpoint.shown, "timeout must be at least 1 second");
      endpoint.reply_timeout = std::chrono::seconds(*seconds);
    } else {
      return invalid(endpoint.shown, "unknown parameter '" + std::string(param.key) + "' (known: db, prefix, timeout)");
    }
  }
  return {};
}

}  // namespace

bool is_redis_url(const std::string& url) {
  return starts_with(url, "redis://") || starts_with(url, "rediss://") || starts_with(url, "unix://");
}

Result<Endpoint> parse_redis_url(const std::string& text, const std::string& env_password) {
  Endpoint endpoint;
  endpoint.shown = masked(text);
  if (starts_with(text, "rediss://"))
    return make_error(ErrorCode::InvalidArgument,
                      "store URL '" + endpoint.shown +
                          "': rediss:// (TLS) is not supported yet (Debian's hiredis 0.14 has no TLS); "
                          "use redis:// on a trusted network or unix://");
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return invalid(endpoint.shown, parsed.error().message());
  const boost::urls::url_view& url = *parsed;
  if (url.has_password()) endpoint.password = url.password();
  if (url.has_userinfo()) endpoint.user = url.user();
  if (endpoint.password.empty()) endpoint.password = env_password;
  if (url.scheme() == "unix") {
    if (url.has_userinfo() || !url.host().empty())
      return invalid(endpoint.shown, "a unix:// URL is unix:///path/to/redis.sock (the password comes from "
                                     "STEWARD_REDIS_PASSWORD)");
    endpoint.unix_path = url.path();
    if (endpoint.unix_path.empty() || endpoint.unix_path.front() != '/')
      return invalid(endpoint.shown, "the socket path must be absolute");
  } else {
    endpoint.host = url.host_address();  // an IPv6 address without its brackets
    if (endpoint.host.empty()) return invalid(endpoint.shown, "no host");
    if (url.has_port()) {
      auto port = parse_number(endpoint.shown, "the port", url.port(), 65535);
      if (!port) return port.error();
      endpoint.port = *port;
    }
    std::string path = url.path();
    if (!path.empty() && path != "/") {
      auto db = parse_number(endpoint.shown, "the database (/DB)", std::string_view(path).substr(1), 1'000'000);
      if (!db) return db.error();
      endpoint.db = *db;
    }
  }
  if (auto query = apply_query(url, endpoint); !query) return query.error();
  return endpoint;
}

}  // namespace steward::store::redis
