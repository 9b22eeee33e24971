// Named API tokens over REST (admin only, see route_roles.cpp): the CLI's
// `steward tokens add | ls | revoke` call these. A token is in the reply to
// its creation and nowhere else.
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>

#include "api/auth/token_registry.hpp"
#include "api/http/json_codec.hpp"
#include "api/http/routes.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {


boost::json::object token_object(const auth::TokenInfo& info) {
  return {{"name", info.name},
          {"role", auth::to_string(info.role)},
          {"created", time_or_null(info.created)},
          {"last_used", time_or_null(info.last_used)},
          {"server_token", info.server_token}};
}

Result<std::pair<std::string, auth::Role>> parse_new_token(const std::string& body) {
  auto object = parse_object(body);
  if (!object) return object.error();
  const auto* name = object->if_contains("name");
  const auto* role = object->if_contains("role");
  if (!name || !name->is_string() || !role || !role->is_string())
    return make_error(ErrorCode::InvalidArgument, "expected {\"name\": \"...\", \"role\": \"read|operate|admin\"}");
  auto parsed = auth::parse_role(std::string_view(role->as_string()));
  if (!parsed)
    return make_error(ErrorCode::InvalidArgument,
                      "unknown role '" + std::string(role->as_string()) + "' (roles: " + auth::kRoleNames + ")");
  return std::pair{std::string(name->as_string()), *parsed};
}

awaitable<void> add_token(ApiContext& context, Exchange& exchange) {
  auto request = parse_new_token(exchange.request().body());
  if (!request) co_return co_await exchange.reply_error(request.error());
  std::string name = std::move(request->first);
  const auth::Role role = request->second;
  auto issued = co_await context.tokens.add(std::move(name), role);
  if (!issued) co_return co_await exchange.reply_error(issued.error());
  spdlog::info("token '{}' ({}) added by {}", issued->info.name, auth::to_string(issued->info.role),
               exchange.caller.name);
  boost::json::object reply = token_object(issued->info);
  reply["token"] = issued->token;
  co_await exchange.reply(http::status::created, reply);
}

awaitable<void> list_tokens(ApiContext& context, Exchange& exchange) {
  boost::json::array tokens;
  for (const auto& info : context.tokens.list()) tokens.push_back(token_object(info));
  co_await exchange.reply(http::status::ok, tokens);
}

awaitable<void> revoke_token(ApiContext& context, Exchange& exchange) {
  std::string name = exchange.captures.at("name");
  auto revoked = co_await context.tokens.revoke(name);
  if (!revoked) co_return co_await exchange.reply_error(revoked.error());
  spdlog::info("token '{}' revoked by {}", name, exchange.caller.name);
  const boost::json::value no_body;  // a local: no temporaries in a co_await (GCC 12, PR 99576)
  co_await exchange.reply(http::status::no_content, no_body);
}

}  // namespace

void add_token_routes(Router& router, ApiContext& context) {
  router.add(http::verb::post, "/tokens", [&context](Exchange& e) { return add_token(context, e); });
  router.add(http::verb::get, "/tokens", [&context](Exchange& e) { return list_tokens(context, e); });
  router.add(http::verb::delete_, "/tokens/:name", [&context](Exchange& e) { return revoke_token(context, e); });
}

}  // namespace steward::api::http
