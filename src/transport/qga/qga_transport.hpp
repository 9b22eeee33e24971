#pragma once
// The `qga` transport: a VM reached through the QEMU guest agent's JSON
// protocol on a unix socket, the inventory variable `steward_qga_socket`
// (no network path to the guest is needed).
#include <memory>

#include "transport/transport.hpp"

namespace steward::transport {

std::shared_ptr<Transport> make_qga_transport(const TransportOptions& options);

}  // namespace steward::transport
