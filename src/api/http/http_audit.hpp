#pragma once
// Which REST requests the audit trail records, and what it records of them
// (README "Audit trail"): never the body, only the fields of an AuditEntry.
#include <boost/beast/http/verb.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/auth/role.hpp"
#include "store/store.hpp"

namespace steward::api::http {

class Exchange;

// Every method but GET, HEAD and OPTIONS; and a GET whose route needs the
// operate role, since those run work too (GET /execute?cmd=...) or hand out
// what operations fetched (GET /files/PATH). `role`: the route's; nullopt
// for a public route.
bool audited(boost::beast::http::verb verb, const std::optional<auth::Role>& role, bool route_found);

// The "targets" (or "target") a JSON body names, as given (a list, or one
// comma-separated string); else the query's; empty when neither says.
std::vector<std::string> requested_targets(std::string_view body, const std::optional<std::string>& query_targets);

// GET /audit's filters: who, target, action (exact), since and until (Unix
// seconds), limit (1 to kMaxAuditLimit, default 100). InvalidArgument naming
// the parameter for a bad value.
inline constexpr std::size_t kMaxAuditLimit = 1000;
Result<store::AuditFilter> parse_audit_filter(const std::map<std::string, std::string>& query);

// The entry for an answered request.
store::AuditEntry audit_entry(const Exchange& exchange, std::string_view path, double now);

}  // namespace steward::api::http
