// /target, and the EXEd operations: a blocking GET and an asynchronous POST each.
#include <boost/json/array.hpp>

#include <algorithm>

#include "api/http/json_codec.hpp"
#include "api/http/routes.hpp"
#include "core/strings.hpp"
#include "inventory/inventory.hpp"
#include "inventory/target_health.hpp"
#include "jobs/job_service.hpp"
#include "ops/args.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

constexpr std::chrono::seconds kDefaultBlockingWait{300};
constexpr const char* kOperations[] = {"ping", "facter", "service", "execute", "copy", "fetch", "deploy"};

// `targets` (or `target`): a list of entries, or one comma-separated string.
Result<std::vector<std::string>> target_entries(const boost::json::object& body) {
  const boost::json::value* value = nullptr;
  for (const char* key : {"targets", "target"}) {
    if (auto it = body.find(key); it != body.end() && !it->value().is_null()) value = &it->value();
    if (value) break;
  }
  if (!value) return make_error(ErrorCode::InvalidArgument, "'targets' is required");
  std::vector<std::string> entries;
  if (value->is_string()) {
    entries = split_nonempty(value->as_string(), ',');
  } else if (value->is_array()) {
    for (const auto& item : value->as_array()) {
      if (!item.is_string()) return make_error(ErrorCode::InvalidArgument, "'targets' must be a list of strings");
      for (auto& piece : split_nonempty(item.as_string(), ',')) entries.push_back(std::move(piece));
    }
  } else {
    return make_error(ErrorCode::InvalidArgument, "'targets' must be a list of strings or a comma-separated string");
  }
  if (entries.empty()) return make_error(ErrorCode::InvalidArgument, "'targets' is empty");
  return entries;
}

Result<std::vector<Target>> resolve_targets(const inventory::Inventory& inventory, const boost::json::object& body) {
  auto entries = target_entries(body);
  if (!entries) return entries.error();
  return inventory.targets(*entries);
}

// What the operation gets: the body without the routing keys.
boost::json::object operation_args(boost::json::object body) {
  body.erase("targets");
  body.erase("target");
  return body;
}

awaitable<Result<std::string>> start_job(ApiContext& context, std::string operate, boost::json::object body) {
  auto targets = resolve_targets(context.inventory, body);
  if (!targets) co_return targets.error();
  jobs::JobRequest request{operate, operation_args(std::move(body)), std::move(*targets)};
  co_return co_await context.jobs.submit(std::move(request));
}

// `operate` by value: these coroutines start lazily, after a temporary argument is gone.
awaitable<void> run_async(ApiContext& context, Exchange& exchange, std::string operate) {
  auto body = parse_object(exchange.request().body());
  if (!body) co_return co_await exchange.reply_error(body.error());
  auto jid = co_await start_job(context, operate, std::move(*body));
  if (!jid) co_return co_await exchange.reply_error(jid.error());
  boost::json::object reply;
  reply["jid"] = *jid;
  co_await exchange.reply(http::status::created, reply);
}

awaitable<void> run_blocking(ApiContext& context, Exchange& exchange, std::string operate) {
  boost::json::object body;
  for (const auto& [key, value] : exchange.query()) {
    if (key != "timeout") body[key] = value;
  }
  boost::json::object wait_arg;
  if (auto timeout = exchange.param("timeout")) wait_arg["timeout"] = *timeout;
  auto wait = ops::optional_seconds(wait_arg, "timeout", kDefaultBlockingWait);
  if (!wait) co_return co_await exchange.reply_error(wait.error());
  auto deadline = std::chrono::steady_clock::now() + *wait;

  auto jid = co_await start_job(context, operate, std::move(body));
  if (!jid) co_return co_await exchange.reply_error(jid.error());
  auto job = co_await context.jobs.wait(*jid, deadline);
  if (!job && job.error().code == ErrorCode::Timeout) {
    auto reply = message_object("still running after the timeout; the job goes on");
    reply["jid"] = *jid;
    co_return co_await exchange.reply(http::status::gateway_timeout, reply);
  }
  if (!job) co_return co_await exchange.reply_error(job.error());
  co_await exchange.reply(http::status::ok, blocking_reply(*job));
}

// ?detail=1: each host with its transport and what its last finished run
// said of reaching it (null before any).
boost::json::object target_detail(const ApiContext& context, const std::string& name) {
  boost::json::object detail;
  detail["name"] = name;
  auto target = context.inventory.target(name);
  detail["transport"] = target ? boost::json::value(target->connection) : boost::json::value(nullptr);
  std::optional<inventory::TargetSighting> last;
  if (context.target_health) last = context.target_health->last(name);
  detail["reachable"] = last ? boost::json::value(last->reachable) : boost::json::value(nullptr);
  detail["last_seen"] = last ? boost::json::value(last->when) : boost::json::value(nullptr);
  detail["last_error"] = last && !last->reachable ? boost::json::value(last->error) : boost::json::value(nullptr);
  return detail;
}

awaitable<void> list_targets(ApiContext& context, Exchange& exchange) {
  std::string pattern = exchange.param("pattern").value_or("*");
  if (pattern.empty()) pattern = "*";
  boost::json::array names;
  for (const auto& entry : split_nonempty(pattern, ',')) {
    auto matched = context.inventory.match(entry);
    if (!matched) {
      if (matched.error().code == ErrorCode::NotFound) continue;  // listing: no match is an empty list
      co_return co_await exchange.reply_error(matched.error());
    }
    for (const auto& name : *matched)
      if (std::find(names.begin(), names.end(), boost::json::value(name)) == names.end()) names.emplace_back(name);
  }
  // Plain names unless asked: EXEd clients read a list of strings.
  const auto detail = exchange.param("detail");
  if (detail && *detail != "0" && *detail != "false") {
    boost::json::array details;
    for (const auto& name : names) details.emplace_back(target_detail(context, std::string(name.as_string())));
    co_return co_await exchange.reply(http::status::ok, details);
  }
  co_await exchange.reply(http::status::ok, names);
}

}  // namespace

void add_operation_routes(Router& router, ApiContext& context) {
  router.add(http::verb::get, "/target", [&context](Exchange& e) { return list_targets(context, e); });
  router.add(http::verb::get, "/targets", [&context](Exchange& e) { return list_targets(context, e); });
  for (const char* operate : kOperations) {
    std::string name = operate;
    router.add(http::verb::get, "/" + name, [&context, name](Exchange& e) { return run_blocking(context, e, name); });
    router.add(http::verb::post, "/" + name, [&context, name](Exchange& e) { return run_async(context, e, name); });
  }
  router.add(http::verb::post, "/packages/install",
             [&context](Exchange& e) { return run_async(context, e, "install"); });
}

}  // namespace steward::api::http
