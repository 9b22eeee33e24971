#pragma once
// The API tokens the server accepts: the server token (STEWARD_TOKEN or
// <data-dir>/token, always admin, named "default") and the named tokens in
// the store, each with a role. Only SHA-256 hashes are kept, in memory and
// at rest; a presented token is hashed and compared with every known hash in
// constant time. Adding and revoking change what authenticate() accepts at
// once, on the running server.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/auth/role.hpp"
#include "core/result.hpp"

namespace steward::store { class Store; }

namespace steward::api::auth {

struct TokenInfo {
  std::string name;
  Role role = Role::Read;
  double created = 0;    // Unix seconds; 0 for the server token
  double last_used = 0;  // Unix seconds; 0 when never used
  bool server_token = false;
};

struct IssuedToken {
  std::string token;  // shown once, to whoever asked for it; never stored
  TokenInfo info;
};

class TokenRegistry {
 public:
  static constexpr std::string_view kServerTokenName = "default";

  // `server_token` empty: no server token (named tokens only). The store is
  // used on `loop` only.
  TokenRegistry(boost::asio::any_io_executor loop, store::Store& store, std::string_view server_token);

  // Reads the named tokens from the store; once, at start, on the loop.
  boost::asio::awaitable<Status> load();

  // Any thread. The caller an "Authorization" value ("Bearer TOKEN") names;
  // nullopt when it names no known token (missing, malformed, unknown, revoked).
  std::optional<Caller> authenticate(std::string_view authorization);

  // Loop only. A new random token with that name and role: InvalidArgument
  // for a bad name, Conflict when the name is taken.
  boost::asio::awaitable<Result<IssuedToken>> add(std::string name, Role role);
  // NotFound when unknown; InvalidArgument for the server token.
  boost::asio::awaitable<Status> revoke(std::string name);
  // The server token first, then by name.
  std::vector<TokenInfo> list() const;

 private:
  struct Entry {
    TokenInfo info;
    std::string hash;          // hex SHA-256 of the token
    double persisted_use = 0;  // the last_used the store was last told
  };

  void note_use(Entry& entry);  // mutex held

  boost::asio::any_io_executor loop_;
  store::Store& store_;
  mutable std::mutex mutex_;  // gRPC threads authenticate too
  std::vector<Entry> entries_;
};

// Names are what ls, logs and messages show and what revoke takes in a URL:
// 1 to 64 of A-Z a-z 0-9 . _ -, not starting with a dot or dash.
Status check_token_name(std::string_view name);

}  // namespace steward::api::auth
