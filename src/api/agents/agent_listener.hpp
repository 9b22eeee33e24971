#pragma once
// The agent listener (--agent-listen, issue 13): a gRPC server of its own
// serving steward.agent.v1.AgentService through gRPC's generic callback API.
// TLS with the agent CA's server identity (reloaded from its files, so a
// renewal needs no restart); client certificates are asked
// for and verified but not required, since Enrol runs without one; Connect
// refuses a call without a verified certificate the Trust admits. gRPC's
// threads hand every message to the event loop (the hub).
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
  // How often gRPC re-reads the certificate files (a renewal is served
  // from then on, without a restart).
  unsigned certificate_reload_seconds = 600;
};

class AgentListener {
 public:
  AgentListener(transport::agent::AgentHub& hub, steward::agents::Trust& trust, AgentListenerOptions options = {});
  ~AgentListener();

  // Binds "ADDR:PORT" (port 0 picks one); returns the port.
  Result<int> listen(const std::string& address);
  // Closes every agent stream, waits briefly for calls to end, stops gRPC.
  // Completes on the loop.
  boost::asio::awaitable<void> shutdown();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace steward::api::agent_rpc
