#pragma once
// One admitted agent's Connect link on the server (private to api/agents):
// the session the hub sends through, a writer that drains it in order, and
// a reader that hands each message to the hub and reads the next only once
// the hub has handled it (back-pressure through TCP, nothing dropped).
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

#include "tls/frame_stream.hpp"
#include "transport/agent/hub.hpp"

namespace steward::api::agent_rpc {

namespace v1 = ::steward::agent::v1;

class AgentLink final : public transport::agent::AgentSession, public std::enable_shared_from_this<AgentLink> {
 public:
  AgentLink(std::shared_ptr<tls::FrameStream> stream, transport::agent::AgentHub& hub, std::string agent_id);

  // Welcomes the agent, attaches it to the hub and serves it until the link
  // ends; then detaches it.
  boost::asio::awaitable<void> serve(v1::Hello hello);

  void send(const v1::ServerMessage& message) override;
  // Sends what is queued, then a Goodbye with the reason, then closes.
  void close(ErrorCode code, const std::string& reason) override;
  // Ends the link at once (the server stops and the agent did not leave).
  void cut();

 private:
  boost::asio::awaitable<void> write_queued();

  std::shared_ptr<tls::FrameStream> stream_;
  transport::agent::AgentHub& hub_;
  std::string agent_id_;
  tls::FrameOutbox outbox_;  // finishing once the Goodbye is queued
};

}  // namespace steward::api::agent_rpc
