#pragma once
// "ADDR:PORT" as the listeners take it (--http, --callback): an IP address
// ("[v6]", "*" or empty for every interface, "localhost" for 127.0.0.1) and
// a port (0 picks one).
#include <boost/asio/ip/tcp.hpp>

#include <string>

#include "core/result.hpp"

namespace steward {

Result<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& address);

}  // namespace steward
