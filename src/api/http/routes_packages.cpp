// Deputy packages and conditions over REST: the package catalog, condition
// records with their live counters, and the values conditions produced.
// (POST /packages/install is an operation: routes_operations.cpp.)
#include <boost/json/array.hpp>

#include "api/http/json_codec.hpp"
#include "api/http/routes.hpp"
#include "ops/args.hpp"
#include "packages/deputy.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

constexpr std::int64_t kDefaultValues = 100;
constexpr std::int64_t kMostValues = 100000;

awaitable<void> list_packages(ApiContext& context, Exchange& exchange) {
  boost::json::array packages;
  for (const auto& package : context.catalog.list()) {
    boost::json::array assets;
    for (const auto& asset : package.assets) assets.emplace_back(asset.destination);
    packages.push_back({{"name", package.name},
                        {"version", package.version},
                        {"type", packages::to_string(package.type)},
                        {"action", package.action},
                        {"assets", std::move(assets)}});
  }
  co_await exchange.reply(http::status::ok, packages);
}

awaitable<void> list_conditions(ApiContext& context, Exchange& exchange) {
  auto conditions = co_await context.deputy.list_conditions();
  if (!conditions) co_return co_await exchange.reply_error(conditions.error());
  co_await exchange.reply(http::status::ok, *conditions);
}

awaitable<void> condition_values(ApiContext& context, Exchange& exchange) {
  std::int64_t limit = kDefaultValues;
  if (auto text = exchange.param("limit")) {
    boost::json::object args{{"limit", *text}};
    auto parsed = ops::required_int(args, "limit");
    if (!parsed || *parsed < 1 || *parsed > kMostValues) {
      auto error = make_error(ErrorCode::InvalidArgument,
                              "'limit' must be a whole number from 1 to " + std::to_string(kMostValues));
      co_return co_await exchange.reply_error(error);
    }
    limit = *parsed;
  }
  const std::string& id = exchange.captures.at("id");
  auto values = co_await context.deputy.condition_values(id, static_cast<std::size_t>(limit));
  if (!values) co_return co_await exchange.reply_error(values.error());
  boost::json::array entries;
  for (const auto& value : *values) entries.push_back({{"at", value.at}, {"value", value.value}});
  boost::json::object reply{{"id", id}, {"values", std::move(entries)}};
  co_await exchange.reply(http::status::ok, reply);
}

}  // namespace

void add_package_routes(Router& router, ApiContext& context) {
  router.add(http::verb::get, "/packages", [&context](Exchange& e) { return list_packages(context, e); });
  router.add(http::verb::get, "/conditions", [&context](Exchange& e) { return list_conditions(context, e); });
  router.add(http::verb::get, "/conditions/:id/values",
             [&context](Exchange& e) { return condition_values(context, e); });
}

}  // namespace steward::api::http
