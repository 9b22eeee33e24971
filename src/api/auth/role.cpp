#include "api/auth/role.hpp"

namespace steward::api::auth {

const char* to_string(Role role) {
  switch (role) {
    case Role::Read: return "read";
    case Role::Operate: return "operate";
    case Role::Admin: return "admin";
  }
  return "read";
}

std::optional<Role> parse_role(std::string_view text) {
  for (Role role : {Role::Read, Role::Operate, Role::Admin})
    if (text == to_string(role)) return role;
  return std::nullopt;
}

std::string denial_message(std::string_view what, Role needed, const Caller& caller) {
  std::string message = std::string(what) + " needs the " + to_string(needed) + " role; ";
  if (caller.token) return message + "token '" + caller.name + "' has the " + to_string(caller.role) + " role";
  return message + caller.name + " (no token) has the " + to_string(caller.role) + " role";
}

}  // namespace steward::api::auth
