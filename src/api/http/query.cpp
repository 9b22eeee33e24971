#include "api/http/query.hpp"

#include "api/http/exchange.hpp"
#include "ops/args.hpp"

namespace steward::api::http {

// Both go through ops/args so a query string and a JSON body say the same about the same value.
Result<bool> query_flag(const Exchange& exchange, const char* name) {
  auto value = exchange.param(name);
  if (!value) return false;
  return ops::optional_bool(boost::json::object{{name, *value}}, name, false);
}

Result<std::optional<std::int64_t>> query_count(const Exchange& exchange, const char* name) {
  auto value = exchange.param(name);
  if (!value) return std::optional<std::int64_t>();
  auto parsed = ops::required_int(boost::json::object{{name, *value}}, name);
  if (!parsed || *parsed < 0)
    return make_error(ErrorCode::InvalidArgument, std::string("'") + name + "' must be a whole number, 0 or more");
  return std::optional<std::int64_t>(*parsed);
}

}  // namespace steward::api::http
