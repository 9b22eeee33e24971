#pragma once
// Resolving and connecting a TCP socket on the loop, within a deadline.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <string>

#include "core/result.hpp"

namespace steward {

// Unreachable naming the step (resolution, connect) that failed or timed out.
boost::asio::awaitable<Result<boost::asio::ip::tcp::socket>> connect_tcp(
    std::string host, int port, std::chrono::steady_clock::time_point deadline);

}  // namespace steward
