#pragma once
// An audit entry as JSON, the same shape everywhere: the Redis store's
// members, the lines of the audit file and GET /audit's entries.
#include <boost/json/object.hpp>

#include <optional>

#include "store/store.hpp"

namespace steward::store {

// {"at", "who", "peer", "api", "action", "path", "targets", "subject", "status", "error"}
boost::json::object audit_to_json(const AuditEntry& entry);
// Nullopt for a value that is not such an object (a damaged member reads as missing).
std::optional<AuditEntry> audit_from_json(const boost::json::value& value);

}  // namespace steward::store
