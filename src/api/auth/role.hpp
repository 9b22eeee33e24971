#pragma once
// Who may do what: the roles a named API token carries, and the caller a
// request is made by. Each role includes the ones before it.
#include <optional>
#include <string>
#include <string_view>

namespace steward::api::auth {

enum class Role {
  Read,     // look: GET routes that start no work, gRPC capabilities
  Operate,  // run and stop work: operations, jobs, pipelines, actions, packages, deployments
  Admin,    // everything, token management included
};

const char* to_string(Role role);
// "read", "operate" or "admin"; nullopt for anything else.
std::optional<Role> parse_role(std::string_view text);
inline constexpr const char* kRoleNames = "read, operate or admin";

inline bool grants(Role held, Role needed) { return held >= needed; }

// Who a request comes from, for role checks and for the record: a token's
// name (never the token), or a description of an unauthenticated client the
// server lets in (allow-listed address, --no-auth).
struct Caller {
  std::string name;
  Role role = Role::Read;
  bool token = true;  // false: let in without a token
};

// The 403 / PERMISSION_DENIED message: what was refused, the role it needs,
// and the caller's name and role.
std::string denial_message(std::string_view what, Role needed, const Caller& caller);

}  // namespace steward::api::auth
