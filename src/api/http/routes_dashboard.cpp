// The dashboard (README "Dashboard"): its files under /ui/, public (they
// hold no secret; the page asks for the token and sends it on every call).
#include "api/http/dashboard.hpp"
#include "api/http/routes.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

awaitable<void> reply_asset(Exchange& exchange, const WebAsset& asset) {
  exchange.set_header("Content-Security-Policy", std::string(kDashboardPolicy));
  exchange.set_header("X-Content-Type-Options", "nosniff");
  exchange.set_header(http::field::etag, std::string(asset.etag));
  // Revalidated on every load (a cheap 304), so a new build is seen at once.
  exchange.set_header(http::field::cache_control, "no-cache");
  exchange.set_header("Referrer-Policy", "no-referrer");
  if (etag_matches(exchange.request()[http::field::if_none_match], asset.etag)) {
    constexpr std::string_view kNoBody;
    co_await exchange.reply_static(http::status::not_modified, kNoBody, kNoBody);
  } else {
    co_await exchange.reply_static(http::status::ok, asset.content_type, asset.bytes);
  }
}

void add_dashboard_routes(Router& router, ApiContext&) {
  router.add(http::verb::get, "/ui/*path", [](Exchange& e) -> awaitable<void> {
    const std::string path = "/ui/" + e.captures["path"];
    const WebAsset* asset = find_asset(web_assets(), path);
    if (!asset) {
      const std::string message = "no such dashboard file: " + path;
      co_return co_await e.reply_error(http::status::not_found, message);
    }
    co_await reply_asset(e, *asset);
  });
}

}  // namespace steward::api::http
