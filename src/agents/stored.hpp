#pragma once
// The directory's records as the store keeps them (kinds "agent" and
// "agent_join"); private to src/agents. Certificates are public; keys and
// join tokens never reach a record (a join token only as its SHA-256).
#include <boost/json/object.hpp>

#include <optional>
#include <string>

#include "agents/trust.hpp"

namespace steward::agents {

inline constexpr const char* kAgentKind = "agent";
inline constexpr const char* kJoinTokenKind = "agent_join";

struct StoredAgent {
  AgentRecord record;
  std::string public_key_sha256;  // of the CSR's key: the same key is the same agent
  std::string certificate_pem;    // issued last (public)
  double certificate_expires_at = 0;
  double requested_at = 0;  // first Enrol
  // Last Enrol, kept to within kRecordAskedEvery (a pending agent asks every
  // few seconds; only a change is written). 0 in older records: requested_at.
  double last_asked_at = 0;
  double revoked_at = 0;
  std::string revoked_by;
};

struct StoredJoinToken {
  std::string name;
  std::string hash;  // lower-case hex SHA-256 of the token
  double created_at = 0;
  double expires_at = 0;
  bool one_shot = false;
};

inline constexpr double kRecordAskedEvery = 3600;

boost::json::object to_json(const StoredAgent& agent);
// Nullopt when the record lacks an id, a key hash or a known state.
std::optional<StoredAgent> agent_from_json(const boost::json::object& json);

boost::json::object to_json(const StoredJoinToken& token);
std::optional<StoredJoinToken> join_token_from_json(const boost::json::object& json);

std::optional<AgentState> parse_agent_state(const std::string& text);

}  // namespace steward::agents
