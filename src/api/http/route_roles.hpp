#pragma once
// Who may call which REST route: the one table, checked by the server before
// a handler runs. Router::add refuses a route that is not in it, so a new
// route without a role fails at start (and in tests/api/route_roles_test.cpp).
#include <ostream>  // before verb.hpp, which prints a verb without including it

#include <boost/beast/http/verb.hpp>

#include <optional>
#include <span>
#include <string_view>

#include "api/auth/role.hpp"

namespace steward::api::http {

struct RouteRole {
  boost::beast::http::verb verb;
  std::string_view pattern;  // as given to Router::add: "/jobs/:jid"
  std::optional<auth::Role> role;  // kPublic: anyone, without a token
};

inline constexpr std::optional<auth::Role> kPublic = std::nullopt;

std::span<const RouteRole> route_roles();

}  // namespace steward::api::http
