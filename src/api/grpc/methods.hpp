#pragma once
// The executor's methods by full name, each a coroutine on the event loop
// that parses its request from the call and finishes the call.
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <string>

#include "api/auth/role.hpp"
#include "api/grpc/call.hpp"

namespace steward::packages { class DeputyService; }

namespace steward::api::grpc {

using Method = std::function<boost::asio::awaitable<void>(Call& call)>;

// A method and the role its caller needs (the same roles as REST's tokens):
// the table in executor_methods() is the one place gRPC's roles are decided.
struct ExecutorMethod {
  ExecutorMethod(auth::Role needed, Method method, bool changes_state)
      : role(needed), run(std::move(method)), audited(changes_state) {}
  auth::Role role;
  Method run;
  bool audited;  // it changes state, so the audit trail records it
};

std::map<std::string, ExecutorMethod> executor_methods(packages::DeputyService& deputy);

}  // namespace steward::api::grpc
