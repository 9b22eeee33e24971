#include "api/http/query.hpp"

#include <boost/url/parse.hpp>

#include "api/http/exchange.hpp"
#include "ops/args.hpp"

namespace steward::api::http {

Result<std::pair<std::string, std::map<std::string, std::string>>> split_target(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return make_error(ErrorCode::InvalidArgument, "malformed request target");
  std::map<std::string, std::string> query;
  for (auto param : parsed->params()) query.emplace(param.key, param.has_value ? param.value : "");
  return std::pair{std::string(parsed->path()), std::move(query)};
}

// Both go through ops/args so a query string and a JSON body say the same about the same value.
Result<bool> flag_value(const char* name, const std::optional<std::string>& value) {
  if (!value) return false;
  return ops::optional_bool(boost::json::object{{name, *value}}, name, false);
}

Result<std::optional<std::int64_t>> count_value(const char* name, const std::optional<std::string>& value) {
  if (!value) return std::optional<std::int64_t>();
  auto parsed = ops::required_int(boost::json::object{{name, *value}}, name);
  if (!parsed || *parsed < 0)
    return make_error(ErrorCode::InvalidArgument, std::string("'") + name + "' must be a whole number, 0 or more");
  return std::optional<std::int64_t>(*parsed);
}

Result<bool> query_flag(const Exchange& exchange, const char* name) { return flag_value(name, exchange.param(name)); }

Result<std::optional<std::int64_t>> query_count(const Exchange& exchange, const char* name) {
  return count_value(name, exchange.param(name));
}

}  // namespace steward::api::http
