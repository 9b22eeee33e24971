#include "agents/join_tokens.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/ids.hpp"
#include "core/sha256.hpp"
#include "core/strings.hpp"

namespace steward::agents {
namespace {

// 256 random bits: plain SHA-256 suffices to store them (see
// api/auth/token_registry.cpp for why no slow KDF).
constexpr std::size_t kTokenBytes = 32;
constexpr std::size_t kMaxNameLength = 64;

std::string hash_of(const std::string& token) {
  Sha256 sha;
  sha.update(token);
  return sha.hex_digest();
}

Status check_name(const std::string& name) {
  auto allowed = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; };
  if (name.empty() || name.size() > kMaxNameLength || !std::all_of(name.begin(), name.end(), allowed) ||
      name.front() == '.' || name.front() == '-')
    return make_error(ErrorCode::InvalidArgument,
                      "a join token name is 1 to 64 of A-Z a-z 0-9 . _ - and starts with a letter, digit or _");
  return {};
}

}  // namespace

Result<StoredJoinToken> JoinTokens::create(std::string name, std::chrono::seconds ttl, bool one_shot, double now,
                                           std::string& token_out) {
  if (ttl.count() <= 0 || ttl > kMaxTtl)
    return make_error(ErrorCode::InvalidArgument, "a join token's ttl is 1 second to 365 days");
  if (name.empty()) name = "join-" + random_hex(4);
  if (auto valid = check_name(name); !valid) return valid.error();
  if (std::any_of(tokens_.begin(), tokens_.end(), [&name](const auto& token) { return token.name == name; }))
    return make_error(ErrorCode::Conflict, "a join token named '" + name + "' exists already");
  token_out = random_hex(kTokenBytes);
  StoredJoinToken entry{std::move(name), hash_of(token_out), now, now + static_cast<double>(ttl.count()), one_shot};
  tokens_.push_back(entry);
  return entry;
}

void JoinTokens::forget(const std::string& name) {
  std::erase_if(tokens_, [&name](const auto& token) { return token.name == name; });
}

Result<StoredJoinToken> JoinTokens::redeem(const std::string& token, double now) {
  const std::string presented = hash_of(token);
  // Every hash is compared, match or not, so timing tells nothing.
  const StoredJoinToken* found = nullptr;
  for (const auto& entry : tokens_)
    if (constant_time_equal(presented, entry.hash)) found = &entry;
  if (!found)
    return make_error(ErrorCode::PermissionDenied,
                      "unknown or already used join token (make a new one: steward agents join-command)");
  if (found->expires_at <= now)
    return make_error(ErrorCode::PermissionDenied,
                      "join token '" + found->name + "' has expired (make a new one: steward agents join-command)");
  StoredJoinToken redeemed = *found;
  if (redeemed.one_shot) forget(redeemed.name);
  return redeemed;
}

std::vector<std::string> JoinTokens::take_expired(double before) {
  std::vector<std::string> names;
  for (const auto& token : tokens_)
    if (token.expires_at < before) names.push_back(token.name);
  for (const auto& name : names) forget(name);
  return names;
}

std::optional<std::chrono::seconds> parse_ttl(const std::string& text) {
  if (text.empty()) return std::nullopt;
  long long multiplier = 1;
  std::string_view digits(text);
  switch (text.back()) {
    case 's': multiplier = 1; digits.remove_suffix(1); break;
    case 'm': multiplier = 60; digits.remove_suffix(1); break;
    case 'h': multiplier = 3600; digits.remove_suffix(1); break;
    case 'd': multiplier = 86400; digits.remove_suffix(1); break;
    default: break;
  }
  long long value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || value <= 0 ||
      value > JoinTokens::kMaxTtl.count() / multiplier)
    return std::nullopt;
  return std::chrono::seconds(value * multiplier);
}

}  // namespace steward::agents
