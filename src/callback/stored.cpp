#include "callback/stored.hpp"

#include "callback/keys.hpp"
#include "core/json_text.hpp"

namespace steward::callback {

boost::json::object to_json(const Registration& registration) {
  return {{"name", registration.name},
          {"user", registration.user},
          {"public_key", registration.public_key},
          {"host_key", registration.host_key},
          {"created_at", registration.created_at},
          {"sshd_port", registration.sshd_port}};
}

std::optional<Registration> registration_from_json(const boost::json::object& json) {
  Registration registration;
  registration.name = text_of(json, "name");
  registration.user = text_of(json, "user");
  registration.public_key = text_of(json, "public_key");
  registration.host_key = text_of(json, "host_key");
  auto key = parse_public_key(registration.public_key);
  if (!check_callback_name(registration.name) || !key || registration.user.empty()) return std::nullopt;
  registration.key_fingerprint = key->fingerprint;
  if (const auto* created = json.if_contains("created_at"); created && created->is_number())
    registration.created_at = created->to_number<double>();
  if (const auto* port = json.if_contains("sshd_port"); port && port->is_int64()) {
    const auto number = port->as_int64();
    if (number < 0 || number > 65535) return std::nullopt;
    registration.sshd_port = static_cast<int>(number);
  }
  return registration;
}

}  // namespace steward::callback
