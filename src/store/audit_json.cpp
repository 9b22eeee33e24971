#include "store/audit_json.hpp"

#include <boost/json/array.hpp>

namespace steward::store {
namespace {

std::string string_at(const boost::json::object& object, const char* key) {
  auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->get_string()) : std::string();
}

}  // namespace

boost::json::object audit_to_json(const AuditEntry& entry) {
  boost::json::array targets;
  for (const auto& target : entry.targets) targets.emplace_back(target);
  return {{"at", entry.at},
          {"who", entry.who},
          {"peer", entry.peer},
          {"api", entry.api},
          {"action", entry.action},
          {"path", entry.path},
          {"targets", std::move(targets)},
          {"subject", entry.subject},
          {"status", entry.status},
          {"error", entry.error}};
}

std::optional<AuditEntry> audit_from_json(const boost::json::value& value) {
  const auto* object = value.if_object();
  if (!object) return std::nullopt;
  AuditEntry entry;
  if (auto* at = object->if_contains("at"); at && at->is_number()) entry.at = at->to_number<double>();
  entry.who = string_at(*object, "who");
  entry.peer = string_at(*object, "peer");
  entry.api = string_at(*object, "api");
  entry.action = string_at(*object, "action");
  entry.path = string_at(*object, "path");
  if (auto* targets = object->if_contains("targets"); targets && targets->is_array()) {
    for (const auto& target : targets->get_array())
      if (target.is_string()) entry.targets.emplace_back(target.get_string());
  }
  entry.subject = string_at(*object, "subject");
  if (auto* status = object->if_contains("status"); status && status->is_number())
    entry.status = status->to_number<int>();
  entry.error = string_at(*object, "error");
  return entry;
}

}  // namespace steward::store
