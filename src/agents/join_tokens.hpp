#pragma once
// Join tokens in memory (the loop's): made here, shown once, kept as a
// SHA-256 and compared in constant time; private to src/agents.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agents/stored.hpp"
#include "core/result.hpp"

namespace steward::agents {

class JoinTokens {
 public:
  static constexpr std::chrono::seconds kMaxTtl{std::chrono::hours(24 * 365)};

  void load(std::vector<StoredJoinToken> tokens) { tokens_ = std::move(tokens); }

  // InvalidArgument for a bad name or ttl, Conflict for a name in use. The
  // token (the only copy) goes to `token_out`; the caller persists the entry.
  Result<StoredJoinToken> create(std::string name, std::chrono::seconds ttl, bool one_shot, double now,
                                 std::string& token_out);
  // Forgets an entry create() made (its store write failed).
  void forget(const std::string& name);

  // The entry `token` matches; PermissionDenied when none does or it has
  // expired. A one-shot entry is removed here, before any await, so two
  // enrolments racing with it cannot both pass.
  Result<StoredJoinToken> redeem(const std::string& token, double now);

  // Names of entries that expired before `before`, removed.
  std::vector<std::string> take_expired(double before);

 private:
  std::vector<StoredJoinToken> tokens_;
};

// "24h", "90m", "3600s", "7d" or plain seconds; nullopt otherwise.
std::optional<std::chrono::seconds> parse_ttl(const std::string& text);

}  // namespace steward::agents
