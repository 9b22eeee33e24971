#pragma once
// The `local` transport: a child process on the server's own machine.
#include <memory>

#include "transport/transport.hpp"

namespace steward::transport {

std::shared_ptr<Transport> make_local_transport();

}  // namespace steward::transport
