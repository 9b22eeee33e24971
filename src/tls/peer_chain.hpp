#pragma once
// The certificate chain a TLS server presents, fetched with one handshake
// that verifies nothing: the caller checks it against a pin.
#include <chrono>
#include <string>
#include <utility>

#include "core/result.hpp"

namespace steward::tls {

// "HOST:PORT" or "[V6]:PORT" split; InvalidArgument otherwise.
Result<std::pair<std::string, std::string>> split_host_port(const std::string& address);

// Every certificate the server at `address` sends (leaf first) as PEM,
// asking for `server_name` (SNI) and ALPN h2. Unreachable when no address
// answers within `timeout`, or the handshake fails.
Result<std::string> fetch_peer_chain(const std::string& address, const std::string& server_name,
                                     std::chrono::milliseconds timeout);

}  // namespace steward::tls
