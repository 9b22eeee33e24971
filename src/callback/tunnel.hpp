#pragma once
// One forwarded-tcpip channel of a callback session bridged to a local
// socket: what the ssh transport's client session runs over. Private to
// src/callback.
#include <libssh/libssh.h>

#include <boost/asio/any_io_executor.hpp>

#include <memory>

namespace steward::transport::ssh { class Connection; }

namespace steward::callback {

// Takes `channel` (open) and `local` (one end of a socketpair): bytes flow
// both ways until either side ends; then both are closed.
void start_tunnel(boost::asio::any_io_executor executor, std::shared_ptr<transport::ssh::Connection> connection,
                  ssh_channel channel, int local);

}  // namespace steward::callback
