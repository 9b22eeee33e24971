#pragma once
#include <memory>
#include <string>

#include "transport/transport.hpp"

namespace steward::transport {

// `ansible_connection=ssh`. `data_dir` holds steward's known_hosts.
std::shared_ptr<Transport> make_ssh_transport(const TransportOptions& options);

}  // namespace steward::transport
