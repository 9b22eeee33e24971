// The server about itself: liveness, Prometheus metrics, its OpenAPI document;
// at "/" its name and version, or the dashboard's page for a browser.
#include <memory>

#include "api/http/dashboard.hpp"
#include "api/http/openapi_document.hpp"
#include "api/http/routes.hpp"
#include "api/http/server_metrics.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

void add_service_routes(Router& router, ApiContext& context) {
  router.add(http::verb::get, "/healthz", [](Exchange& e) -> awaitable<void> {
    boost::json::object body;
    body["status"] = "ok";
    body["version"] = STEWARD_VERSION;
    co_await e.reply(http::status::ok, body);
  });
  router.add(http::verb::get, "/metrics", [&context](Exchange& e) -> awaitable<void> {
    std::string text = metrics_text(context);
    co_await e.reply_text(http::status::ok, "text/plain; version=0.0.4", std::move(text));
  });
  // One shared copy of the embedded text, sent without copying it per request.
  auto openapi = std::make_shared<const std::string>(openapi_document());
  router.add(http::verb::get, "/openapi.json", [openapi](Exchange& e) -> awaitable<void> {
    co_await e.reply_json(http::status::ok, openapi);
  });
  // Browsers get the dashboard's page, without a token (HttpServer lets
  // them through); API clients the EXEd-compatible {"name","version"}.
  router.add(http::verb::get, "/", [](Exchange& e) -> awaitable<void> {
    if (prefers_html(e.request()[http::field::accept])) {
      if (const WebAsset* index = find_asset(web_assets(), kDashboardIndex)) co_return co_await reply_asset(e, *index);
    }
    boost::json::object body;
    body["name"] = "steward";
    body["version"] = STEWARD_VERSION;
    co_await e.reply(http::status::ok, body);
  });
}

}  // namespace steward::api::http
