#pragma once
// The shared store: one Redis (README "Redis"), so several steward servers
// act as one service. Driven from the server's event loop by hiredis
// (redis_connection.hpp); atomic checks are Lua scripts (redis_scripts.cpp).
#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string>

#include "store/store.hpp"

namespace steward::store {

// `url` is redis://... or unix://... (store/redis/redis_url.hpp); the
// password may come from STEWARD_REDIS_PASSWORD. Nothing is sent until the
// first call, so a Redis that is down shows as Unavailable on that call.
Result<std::unique_ptr<Store>> open_redis_store(const std::string& url, boost::asio::any_io_executor executor);

}  // namespace steward::store
