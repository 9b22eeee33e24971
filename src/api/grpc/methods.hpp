#pragma once
// The executor's methods by full name, each a coroutine on the event loop
// that parses its request from the call and finishes the call.
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <string>

#include "api/grpc/call.hpp"

namespace steward::packages { class DeputyService; }

namespace steward::api::grpc {

using Method = std::function<boost::asio::awaitable<void>(Call& call)>;

std::map<std::string, Method> executor_methods(packages::DeputyService& deputy);

}  // namespace steward::api::grpc
