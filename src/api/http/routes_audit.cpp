// GET /audit: the audit trail, newest first (admin only, see route_roles.cpp).
#include <boost/json/array.hpp>

#include "api/audit/audit_log.hpp"
#include "api/http/http_audit.hpp"
#include "api/http/routes.hpp"
#include "store/audit_json.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

const std::string kNoAuditTrail = "this server keeps no audit trail";

awaitable<void> list_audit(audit::AuditLog* log, Exchange& exchange) {
  if (!log) {
    co_await exchange.reply_error(http::status::not_found, kNoAuditTrail);
    co_return;
  }
  auto filter = parse_audit_filter(exchange.query());
  if (!filter) {
    co_await exchange.reply_error(filter.error());
    co_return;
  }
  auto listing = log->list(std::move(*filter));
  auto listed = co_await std::move(listing);
  if (!listed) {
    co_await exchange.reply_error(listed.error());
    co_return;
  }
  boost::json::array entries;
  for (const auto& entry : *listed) entries.push_back(store::audit_to_json(entry));
  const boost::json::value body = boost::json::object{{"entries", std::move(entries)}};
  co_await exchange.reply(http::status::ok, body);
}

}  // namespace

void add_audit_routes(Router& router, ApiContext& context) {
  router.add(http::verb::get, "/audit", [log = context.audit](Exchange& e) { return list_audit(log, e); });
}

}  // namespace steward::api::http
