// Named actions: the services (drivers) and their actions, calls routed by
// the SERVICE: prefix, their outcomes, and the Congress form of a call.
#include <boost/json/array.hpp>

#include "actions/action_log.hpp"
#include "actions/router.hpp"
#include "api/http/json_codec.hpp"
#include "api/http/routes.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

struct CallBody {
  std::string name;
  boost::json::array args;
  boost::json::object options;
};

// {"name", "args" (a list), "options" (an object)}; args and options may be absent.
Result<CallBody> parse_call(Exchange& exchange) {
  auto body = parse_object(exchange.request().body());
  if (!body) return body.error();
  CallBody call;
  const auto* name = body->if_contains("name");
  if (!name || !name->is_string() || name->as_string().empty())
    return make_error(ErrorCode::InvalidArgument, "'name' must be an action name such as \"steward:ping\"");
  call.name = std::string(name->as_string());
  if (const auto* args = body->if_contains("args"); args && !args->is_null()) {
    if (!args->is_array()) return make_error(ErrorCode::InvalidArgument, "'args' must be a list");
    call.args = args->as_array();
  }
  if (const auto* options = body->if_contains("options"); options && !options->is_null()) {
    if (!options->is_object()) return make_error(ErrorCode::InvalidArgument, "'options' must be an object");
    call.options = options->as_object();
  }
  return call;
}

// 202 only once the call's record is durable.
awaitable<void> reply_accepted(ApiContext& context, Exchange& exchange, const Result<std::string>& id) {
  if (!id) co_return co_await exchange.reply_error(id.error());
  if (auto durable = co_await context.action_log.flush(); !durable)
    co_return co_await exchange.reply_error(durable.error());
  boost::json::object reply{{"id", *id}};
  co_await exchange.reply(http::status::accepted, reply);
}

// `policy` is the Congress policy a call is made for (empty for plain calls).
awaitable<void> submit_call(ApiContext& context, Exchange& exchange, const std::string& policy) {
  auto call = parse_call(exchange);
  if (!call) co_return co_await exchange.reply_error(call.error());
  auto id = context.actions.submit(call->name, std::move(call->args), std::move(call->options), policy);
  co_await reply_accepted(context, exchange, id);
}

// Named, not a temporary in the co_await (GCC 12, PR 99576).
const std::string kNoPolicy;

awaitable<void> call_action(ApiContext& context, Exchange& exchange) {
  co_await submit_call(context, exchange, kNoPolicy);
}

awaitable<void> call_service_action(ApiContext& context, Exchange& exchange) {
  auto call = parse_call(exchange);
  if (!call) co_return co_await exchange.reply_error(call.error());
  auto id = context.actions.submit_to(exchange.captures.at("service"), call->name, std::move(call->args),
                                      std::move(call->options));
  co_await reply_accepted(context, exchange, id);
}

Status require_execute_action(const Exchange& exchange, const char* resource) {
  if (exchange.param("action").value_or("") == "execute") return {};
  return make_error(ErrorCode::InvalidArgument, std::string("the only ") + resource + " action is ?action=execute");
}

// Congress's ExecutionDriver form: POST /v1/cloud-services/SVC?action=execute.
awaitable<void> congress_execute(ApiContext& context, Exchange& exchange) {
  if (auto allowed = require_execute_action(exchange, "cloud-service"); !allowed)
    co_return co_await exchange.reply_error(allowed.error());
  co_await call_service_action(context, exchange);
}

// Congress's other form: "execute an action as if the given policy dictated
// it", POST /v1/policies/POLICY?action=execute, routed by the name's prefix.
awaitable<void> congress_policy_execute(ApiContext& context, Exchange& exchange) {
  if (auto allowed = require_execute_action(exchange, "policy"); !allowed)
    co_return co_await exchange.reply_error(allowed.error());
  const std::string& policy = exchange.captures.at("policy");  // the key's temporary stays out of the co_await
  co_await submit_call(context, exchange, policy);
}

awaitable<void> get_action(ApiContext& context, Exchange& exchange) {
  const std::string& id = exchange.captures.at("id");
  auto record = context.actions.get(id);
  if (record) co_return co_await exchange.reply(http::status::ok, actions::to_json(*record));
  // Older calls, and calls from before a restart, are in the store.
  auto stored = co_await context.action_log.load(id);
  if (!stored) co_return co_await exchange.reply_error(stored.error());
  co_await exchange.reply(http::status::ok, *stored);
}

awaitable<void> list_services(ApiContext& context, Exchange& exchange) {
  co_await exchange.reply(http::status::ok, context.actions.services());
}

}  // namespace

void add_action_routes(Router& router, ApiContext& context) {
  router.add(http::verb::get, "/services", [&context](Exchange& e) { return list_services(context, e); });
  router.add(http::verb::post, "/actions", [&context](Exchange& e) { return call_action(context, e); });
  router.add(http::verb::get, "/actions/:id", [&context](Exchange& e) { return get_action(context, e); });
  router.add(http::verb::post, "/services/:service/actions",
             [&context](Exchange& e) { return call_service_action(context, e); });
  router.add(http::verb::post, "/cloud-services/:service",
             [&context](Exchange& e) { return congress_execute(context, e); });
  router.add(http::verb::post, "/policies/:policy",
             [&context](Exchange& e) { return congress_policy_execute(context, e); });
}

}  // namespace steward::api::http
