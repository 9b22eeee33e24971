#pragma once
// The `local` transport: a child process on the server's own machine.
#include <memory>
#include <string>

#include "transport/transport.hpp"

namespace steward::transport {

// Supervised commands (ExecRequest::journal) keep their status files in
// STATE_DIR/runs (created 0700).
std::shared_ptr<Transport> make_local_transport(const std::string& state_dir = ".");

}  // namespace steward::transport
