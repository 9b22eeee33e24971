#pragma once
// The agent listener (--agent-listen, issue 13): TLS links framed as in
// proto/agent.proto, on the event loop. It serves the agent CA's server
// identity (a renewal is served to new links at once); client certificates
// are asked for and verified but not required, since an enrolment has none;
// a Connect link without a verified certificate the Trust admits is refused
// with a Goodbye that says why.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "core/result.hpp"

namespace steward::agents { class Trust; }
namespace steward::transport::agent { class AgentHub; }

namespace steward::api::agent_rpc {

struct AgentListenerOptions {
  // Pending agents that stopped asking are forgotten and the certificate is
  // renewed when it ends within 30 days.
  std::chrono::milliseconds upkeep_every{std::chrono::hours(24)};
};

class AgentListener {
 public:
  AgentListener(transport::agent::AgentHub& hub, steward::agents::Trust& trust, AgentListenerOptions options = {});
  ~AgentListener();

  // Binds "ADDR:PORT" (port 0 picks one); returns the port.
  Result<int> listen(const std::string& address);
  // Stops accepting, says Goodbye on every agent link, waits briefly for
  // them to end and cuts the rest. Completes on the loop.
  boost::asio::awaitable<void> shutdown();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace steward::api::agent_rpc
