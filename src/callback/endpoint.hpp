#pragma once
// The callback endpoint (--callback ADDR:PORT, issue 14): an SSH server that
// registered VMs log in to with their callback key to forward their sshd
// (`ssh -N -R PORT:localhost:22`). It accepts public-key authentication with
// registered keys only and the `tcpip-forward` global request only; every
// channel a VM asks for is refused and logged, and no port is really
// listened on: a forward is kept as the way back to that VM. A second
// callback with the same key replaces the first. dial() is how the ssh
// transport reaches a callback target: a socket whose other end is a
// `forwarded-tcpip` channel to the VM's sshd.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "core/result.hpp"

namespace steward::callback {

class Registry;

struct EndpointOptions {
  std::chrono::milliseconds wait{60000};             // how long dial() waits for a target to call back
  std::chrono::milliseconds keepalive{15000};        // keepalives on live callback sessions
  std::chrono::milliseconds login_timeout{10000};    // from accept to an accepted tcpip-forward
  std::size_t max_unauthenticated = 64;              // connections still logging in; more are closed at once
};

class CallbackEndpoint {
 public:
  CallbackEndpoint(boost::asio::any_io_executor executor, Registry& registry, EndpointOptions options);
  ~CallbackEndpoint();
  CallbackEndpoint(const CallbackEndpoint&) = delete;
  CallbackEndpoint& operator=(const CallbackEndpoint&) = delete;

  // Binds and starts accepting; the port bound (for port 0).
  Result<int> listen(const std::string& address);

  // Loop only. A connected stream socket to NAME's sshd, owned by the caller;
  // Unreachable when NAME is not registered, or has not called back within
  // the wait, or its session cannot open the channel.
  boost::asio::awaitable<Result<int>> dial(std::string name);

  // Stops accepting and closes every session.
  void shutdown();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace steward::callback
