#include "api/http/http_audit.hpp"

#include <boost/json/parse.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "api/http/exchange.hpp"
#include "core/strings.hpp"

namespace steward::api::http {

namespace http = boost::beast::http;

bool audited(http::verb verb, const std::optional<auth::Role>& role, bool route_found) {
  if (verb != http::verb::get && verb != http::verb::head && verb != http::verb::options) return true;
  return route_found && role == auth::Role::Operate;
}

namespace {

void add_entries(std::vector<std::string>& out, std::string_view text) {
  for (auto& piece : split_nonempty(text, ',')) out.push_back(std::move(piece));
}

std::vector<std::string> targets_in_body(std::string_view body) {
  std::vector<std::string> out;
  if (body.empty()) return out;
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  const auto* object = ec ? nullptr : value.if_object();
  if (!object) return out;
  for (const char* key : {"targets", "target"}) {
    const auto* field = object->if_contains(key);
    if (!field) continue;
    if (field->is_string()) add_entries(out, field->get_string());
    if (const auto* list = field->if_array()) {
      for (const auto& item : *list)
        if (item.is_string()) add_entries(out, item.get_string());
    }
    if (!out.empty()) break;
  }
  return out;
}

}  // namespace

std::vector<std::string> requested_targets(std::string_view body, const std::optional<std::string>& query_targets) {
  auto out = targets_in_body(body);
  if (out.empty() && query_targets) add_entries(out, *query_targets);
  return out;
}

namespace {

Result<std::optional<double>> time_param(const std::map<std::string, std::string>& query, const char* name) {
  auto it = query.find(name);
  if (it == query.end()) return std::optional<double>();
  const char* text = it->second.c_str();
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(text, &end);
  if (it->second.empty() || *end != '\0' || errno != 0 || !std::isfinite(value))
    return make_error(ErrorCode::InvalidArgument, std::string("'") + name + "' must be a time in Unix seconds, not '" +
                                                      it->second + "'");
  return std::optional<double>(value);
}

}  // namespace

Result<store::AuditFilter> parse_audit_filter(const std::map<std::string, std::string>& query) {
  store::AuditFilter filter;
  const std::pair<const char*, std::optional<std::string>*> names[] = {
      {"who", &filter.who}, {"target", &filter.target}, {"action", &filter.action}};
  for (auto [name, field] : names) {
    auto it = query.find(name);
    if (it == query.end()) continue;
    if (it->second.empty()) return make_error(ErrorCode::InvalidArgument, std::string("'") + name + "' is empty");
    *field = it->second;
  }
  auto since = time_param(query, "since");
  if (!since) return since.error();
  auto until = time_param(query, "until");
  if (!until) return until.error();
  filter.since = *since;
  filter.until = *until;
  if (auto it = query.find("limit"); it != query.end()) {
    const std::string& text = it->second;
    char* end = nullptr;
    errno = 0;
    long long value = text.empty() || text[0] == '-' ? -1 : std::strtoll(text.c_str(), &end, 10);
    if (value < 1 || static_cast<unsigned long long>(value) > kMaxAuditLimit || *end != '\0' || errno != 0)
      return make_error(ErrorCode::InvalidArgument,
                        "'limit' must be a whole number from 1 to " + std::to_string(kMaxAuditLimit) + ", not '" +
                            text + "'");
    filter.limit = static_cast<std::size_t>(value);
  }
  return filter;
}

store::AuditEntry audit_entry(const Exchange& exchange, std::string_view path, double now) {
  const auto& request = exchange.request();
  store::AuditEntry entry;
  entry.at = now;
  // A caller let in without a token (an allow-listed address, --no-auth) or
  // refused before it was known: the peer address says who it was.
  entry.who = exchange.caller.token && !exchange.caller.name.empty() ? exchange.caller.name : "anonymous";
  entry.peer = exchange.peer;
  entry.api = "rest";
  entry.action = exchange.route.empty() ? std::string(request.method_string()) + " (no route)" : exchange.route;
  entry.path = std::string(path);
  auto query_targets = exchange.param("targets");
  if (!query_targets) query_targets = exchange.param("target");
  entry.targets = requested_targets(request.body(), query_targets);
  entry.subject = exchange.reply_jid();
  if (entry.subject.empty() && !exchange.captures.empty()) entry.subject = exchange.captures.begin()->second;
  entry.status = static_cast<int>(exchange.status());
  if (entry.status >= 400) entry.error = exchange.error_message();
  return entry;
}

}  // namespace steward::api::http
