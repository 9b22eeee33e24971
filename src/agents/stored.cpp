#include "agents/stored.hpp"

#include <algorithm>

#include "core/json_text.hpp"

namespace steward::agents {
namespace {

double number_of(const boost::json::object& json, const char* key) {
  const auto* value = json.if_contains(key);
  if (!value) return 0;
  if (value->is_double()) return value->as_double();
  if (value->is_int64()) return static_cast<double>(value->as_int64());
  if (value->is_uint64()) return static_cast<double>(value->as_uint64());
  return 0;
}

}  // namespace

const char* to_string(AgentState state) {
  switch (state) {
    case AgentState::Pending:
      return "pending";
    case AgentState::Approved:
      return "approved";
    case AgentState::Revoked:
      return "revoked";
  }
  return "unknown";
}

std::optional<AgentState> parse_agent_state(const std::string& text) {
  for (auto state : {AgentState::Pending, AgentState::Approved, AgentState::Revoked})
    if (text == to_string(state)) return state;
  return std::nullopt;
}

boost::json::object to_json(const StoredAgent& agent) {
  const AgentRecord& record = agent.record;
  boost::json::object labels;
  for (const auto& [key, value] : record.labels) labels[key] = value;
  return {{"id", record.id},
          {"hostname", record.hostname},
          {"labels", std::move(labels)},
          {"state", to_string(record.state)},
          {"public_key_sha256", agent.public_key_sha256},
          {"certificate_fingerprint", record.certificate_fingerprint},
          {"certificate_pem", agent.certificate_pem},
          {"certificate_expires_at", agent.certificate_expires_at},
          {"enrolled_at", record.enrolled_at},
          {"enrolled_by", record.enrolled_by},
          {"requested_at", agent.requested_at},
          {"last_asked_at", agent.last_asked_at},
          {"revoked_at", agent.revoked_at},
          {"revoked_by", agent.revoked_by},
          {"version", record.version},
          {"address", record.address}};
}

std::optional<StoredAgent> agent_from_json(const boost::json::object& json) {
  StoredAgent agent;
  AgentRecord& record = agent.record;
  record.id = text_of(json, "id");
  agent.public_key_sha256 = text_of(json, "public_key_sha256");
  auto state = parse_agent_state(text_of(json, "state"));
  if (record.id.empty() || agent.public_key_sha256.empty() || !state) return std::nullopt;
  record.state = *state;
  record.hostname = text_of(json, "hostname");
  if (const auto* labels = json.if_contains("labels"); labels && labels->is_object())
    for (const auto& [key, value] : labels->as_object())
      if (value.is_string()) record.labels[std::string(key)] = std::string(value.as_string());
  record.certificate_fingerprint = text_of(json, "certificate_fingerprint");
  record.enrolled_at = number_of(json, "enrolled_at");
  record.enrolled_by = text_of(json, "enrolled_by");
  record.version = text_of(json, "version");
  record.address = text_of(json, "address");
  agent.certificate_pem = text_of(json, "certificate_pem");
  agent.certificate_expires_at = number_of(json, "certificate_expires_at");
  agent.requested_at = number_of(json, "requested_at");
  agent.last_asked_at = std::max(number_of(json, "last_asked_at"), agent.requested_at);
  agent.revoked_at = number_of(json, "revoked_at");
  agent.revoked_by = text_of(json, "revoked_by");
  return agent;
}

boost::json::object to_json(const StoredJoinToken& token) {
  return {{"name", token.name},
          {"sha256", token.hash},
          {"created_at", token.created_at},
          {"expires_at", token.expires_at},
          {"one_shot", token.one_shot}};
}

std::optional<StoredJoinToken> join_token_from_json(const boost::json::object& json) {
  StoredJoinToken token;
  token.name = text_of(json, "name");
  token.hash = text_of(json, "sha256");
  if (token.name.empty() || token.hash.empty()) return std::nullopt;
  token.created_at = number_of(json, "created_at");
  token.expires_at = number_of(json, "expires_at");
  const auto* one_shot = json.if_contains("one_shot");
  token.one_shot = one_shot && one_shot->is_bool() && one_shot->as_bool();
  return token;
}

}  // namespace steward::agents
