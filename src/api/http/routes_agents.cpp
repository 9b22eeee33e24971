// Agents over REST (issue 13): the directory (`steward agents ls`), join
// tokens (`steward agents join-command`), approve and revoke. A join token is
// in the reply to its creation and nowhere else.
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>

#include "agents/join_tokens.hpp"
#include "agents/trust.hpp"
#include "api/http/json_codec.hpp"
#include "api/http/routes.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

constexpr std::chrono::seconds kDefaultJoinTtl{std::chrono::hours(24)};

// Unix seconds, or null for "never".

boost::json::object agent_object(const agents::AgentRecord& agent) {
  boost::json::object labels;
  for (const auto& [key, value] : agent.labels) labels[key] = value;
  return {{"id", agent.id},
          {"hostname", agent.hostname},
          {"state", agents::to_string(agent.state)},
          {"labels", std::move(labels)},
          {"connected", agent.connected},
          {"connected_since", agent.connected ? time_or_null(agent.connected_since) : boost::json::value(nullptr)},
          {"last_seen", time_or_null(agent.last_seen)},
          {"address", agent.address},
          {"version", agent.version},
          {"enrolled_at", time_or_null(agent.enrolled_at)},
          {"enrolled_by", agent.enrolled_by},
          {"certificate_fingerprint", agent.certificate_fingerprint}};
}

struct JoinTokenRequest {
  std::string name;
  std::chrono::seconds ttl = kDefaultJoinTtl;
  bool one_shot = false;
};

Result<JoinTokenRequest> parse_join_token_request(const std::string& body) {
  JoinTokenRequest request;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return request;
  auto object = parse_object(body);
  if (!object) return object.error();
  for (const auto& [key, value] : *object) {
    if (key == "name" && value.is_string()) {
      request.name = std::string(value.as_string());
    } else if (key == "ttl" && (value.is_int64() || value.is_uint64() || value.is_string())) {
      // A number past int64 (uint64 in Boost.JSON) is too long anyway.
      auto ttl = value.is_string() ? agents::parse_ttl(std::string(value.as_string()))
                 : value.is_int64() && value.as_int64() > 0 ? std::optional(std::chrono::seconds(value.as_int64()))
                                                            : std::nullopt;
      if (!ttl || *ttl > agents::JoinTokens::kMaxTtl)
        return make_error(ErrorCode::InvalidArgument,
                          "ttl: seconds (a positive number) or a duration like 90m, 24h or 7d, at most 365 days");
      request.ttl = *ttl;
    } else if (key == "one_shot" && value.is_bool()) {
      request.one_shot = value.as_bool();
    } else {
      return make_error(ErrorCode::InvalidArgument, "expected {\"name\"?: string, \"ttl\"?: seconds or \"24h\", "
                                                    "\"one_shot\"?: bool}; '" + std::string(key) + "' is not one of them "
                                                    "or has the wrong type");
    }
  }
  return request;
}

Error agents_off() {
  return make_error(ErrorCode::Unavailable, "agent enrolment is not available on this server");
}

awaitable<void> list_agents(ApiContext& context, Exchange& exchange) {
  if (!context.agents) co_return co_await exchange.reply_error(agents_off());
  boost::json::array listed;
  for (const auto& agent : context.agents->list()) listed.push_back(agent_object(agent));
  co_await exchange.reply(http::status::ok, listed);
}

awaitable<void> create_join_token(ApiContext& context, Exchange& exchange) {
  if (!context.agents) co_return co_await exchange.reply_error(agents_off());
  auto request = parse_join_token_request(exchange.request().body());
  if (!request) co_return co_await exchange.reply_error(request.error());
  std::string name = std::move(request->name);
  auto created = co_await context.agents->create_join_token(std::move(name), request->ttl, request->one_shot);
  if (!created) co_return co_await exchange.reply_error(created.error());
  spdlog::info("join token '{}' created by {} ({}, valid {} s)", created->name, exchange.caller.name,
               created->one_shot ? "one-shot" : "reusable", request->ttl.count());
  const std::string server = context.agent_address.empty() ? "HOST:PORT" : context.agent_address;
  boost::json::object reply{{"name", created->name},
                            {"token", created->token},
                            {"expires_at", created->expires_at},
                            {"one_shot", created->one_shot},
                            {"ca_pin", context.agents->ca_pin()},
                            {"agent_address", context.agent_address},
                            {"command", "steward agent --server " + server + " --join " + created->token +
                                            " --ca-pin " + context.agents->ca_pin()}};
  co_await exchange.reply(http::status::created, reply);
}

// approve or revoke, then the agent as it is now.
awaitable<void> change_agent(ApiContext& context, Exchange& exchange, bool approve) {
  if (!context.agents) co_return co_await exchange.reply_error(agents_off());
  std::string id = exchange.captures.at("id");
  std::string by = exchange.caller.name;
  Status changed;
  if (approve)
    changed = co_await context.agents->approve(id, by);
  else
    changed = co_await context.agents->revoke(id, by);
  if (!changed) co_return co_await exchange.reply_error(changed.error());
  auto agent = context.agents->find(id);
  if (!agent) {
    const auto missing = make_error(ErrorCode::NotFound, "no agent '" + id + "'");
    co_return co_await exchange.reply_error(missing);
  }
  const boost::json::object reply = agent_object(*agent);
  co_await exchange.reply(http::status::ok, reply);
}

}  // namespace

void add_agent_routes(Router& router, ApiContext& context) {
  router.add(http::verb::get, "/agents", [&context](Exchange& e) { return list_agents(context, e); });
  router.add(http::verb::post, "/agents/join-tokens", [&context](Exchange& e) { return create_join_token(context, e); });
  router.add(http::verb::post, "/agents/:id/approve", [&context](Exchange& e) { return change_agent(context, e, true); });
  router.add(http::verb::post, "/agents/:id/revoke", [&context](Exchange& e) { return change_agent(context, e, false); });
}

}  // namespace steward::api::http
