#include "api/auth/token_registry.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cctype>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/sha256.hpp"
#include "core/strings.hpp"
#include "store/store.hpp"

namespace steward::api::auth {
namespace {

// 256 random bits. Plain SHA-256 suffices to store them: a slow KDF (bcrypt,
// scrypt, Argon2) makes guessing a low-entropy password expensive, but no
// one guesses a 2^256 space, and a slow hash on every request would cost the
// event loop tens of milliseconds per call and hand out a cheap way to load it.
constexpr std::size_t kTokenBytes = 32;
// last_used reaches the store at most this often per token (every request
// would be a write); the running server's `ls` shows the exact time.
constexpr double kUsePersistPeriod = 60;
constexpr std::size_t kMaxNameLength = 64;

std::string hash_of(std::string_view token) {
  Sha256 sha;
  sha.update(token);
  return sha.hex_digest();
}

// The token of "Bearer TOKEN" (the scheme in any case, RFC 9110); empty otherwise.
std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  return authorization.substr(kScheme.size());
}

}  // namespace

Status check_token_name(std::string_view name) {
  auto allowed = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; };
  if (name.empty() || name.size() > kMaxNameLength || !std::all_of(name.begin(), name.end(), allowed) ||
      name.front() == '.' || name.front() == '-')
    return make_error(ErrorCode::InvalidArgument,
                      "a token name is 1 to 64 of A-Z a-z 0-9 . _ - and starts with a letter, digit or _");
  return {};
}

TokenRegistry::TokenRegistry(boost::asio::any_io_executor loop, store::Store& store, std::string_view server_token)
    : loop_(std::move(loop)), store_(store) {
  if (!server_token.empty()) {
    Entry entry;
    entry.info = {std::string(kServerTokenName), Role::Admin, 0, 0, true};
    entry.hash = hash_of(server_token);
    entries_.push_back(std::move(entry));
  }
}

boost::asio::awaitable<Status> TokenRegistry::load() {
  auto stored = co_await store_.list_tokens();
  if (!stored) co_return stored.error();
  std::lock_guard lock(mutex_);
  for (const auto& token : *stored) {
    auto role = parse_role(token.role);
    if (!role) {
      // Refusing it is the safe reading of a role this version does not know.
      spdlog::warn("token '{}' has an unknown role '{}' in the store: it is not accepted", token.name, token.role);
      continue;
    }
    Entry entry;
    entry.info = {token.name, *role, token.created, token.last_used, false};
    entry.hash = token.hash;
    entry.persisted_use = token.last_used;
    entries_.push_back(std::move(entry));
  }
  co_return Status{};
}

std::optional<Caller> TokenRegistry::authenticate(std::string_view authorization) {
  auto token = bearer_token(authorization);
  if (token.empty()) return std::nullopt;
  const std::string presented = hash_of(token);
  std::lock_guard lock(mutex_);
  // Every hash is compared, match or not, so timing tells nothing.
  Entry* found = nullptr;
  for (auto& entry : entries_)
    if (constant_time_equal(presented, entry.hash)) found = &entry;
  if (!found) return std::nullopt;
  note_use(*found);
  return Caller{found->info.name, found->info.role};
}

void TokenRegistry::note_use(Entry& entry) {
  const double now = unix_now();
  entry.info.last_used = now;
  if (entry.info.server_token || now - entry.persisted_use < kUsePersistPeriod) return;
  entry.persisted_use = now;
  boost::asio::post(loop_, [this, name = entry.info.name, now] { store_.note_token_used(name, now); });
}

boost::asio::awaitable<Result<IssuedToken>> TokenRegistry::add(std::string name, Role role) {
  if (auto valid = check_token_name(name); !valid) co_return valid.error();
  if (name == kServerTokenName)
    co_return make_error(ErrorCode::Conflict, "'" + name + "' is the server token's name (STEWARD_TOKEN or "
                                              "<data-dir>/token); pick another");
  IssuedToken issued;
  issued.token = random_hex(kTokenBytes);
  issued.info = {name, role, unix_now(), 0, false};
  store::StoredToken stored{name, to_string(role), hash_of(issued.token), issued.info.created, 0};
  auto added = co_await store_.add_token(stored);
  if (!added) co_return added.error();
  std::lock_guard lock(mutex_);
  entries_.push_back({issued.info, std::move(stored.hash), 0});
  co_return issued;
}

boost::asio::awaitable<Status> TokenRegistry::revoke(std::string name) {
  if (name == kServerTokenName)
    co_return make_error(ErrorCode::InvalidArgument,
                         "the server token cannot be revoked here: change STEWARD_TOKEN (or delete <data-dir>/token) "
                         "and restart the server");
  auto deleted = co_await store_.delete_token(name);
  if (!deleted) co_return deleted.error();
  std::lock_guard lock(mutex_);
  auto gone = std::erase_if(entries_, [&name](const Entry& entry) { return entry.info.name == name; });
  if (!*deleted && gone == 0) co_return make_error(ErrorCode::NotFound, "no token named '" + name + "'");
  co_return Status{};
}

std::vector<TokenInfo> TokenRegistry::list() const {
  std::lock_guard lock(mutex_);
  std::vector<TokenInfo> out;
  for (const auto& entry : entries_) out.push_back(entry.info);
  std::stable_sort(out.begin(), out.end(), [](const TokenInfo& a, const TokenInfo& b) {
    return a.server_token != b.server_token ? a.server_token : a.name < b.name;
  });
  return out;
}

}  // namespace steward::api::auth
