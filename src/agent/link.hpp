#pragma once
// One Connect link from the agent to the server (proto/agent.proto), on the
// agent's loop: dial, send the hello, hand each server message to the
// loop's handler and read the next only once it returned (back-pressure,
// nothing dropped), write queued messages in order.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>

#include "agent.pb.h"
#include "core/result.hpp"
#include "tls/frame_stream.hpp"
#include "tls/link_context.hpp"

namespace steward::agent {

namespace v1 = ::steward::agent::v1;

class Link final : public std::enable_shared_from_this<Link> {
 public:
  struct Handlers {
    std::function<void()> up;  // the server admitted the agent (Welcome)
    std::function<void(const v1::ServerMessage&)> message;
    std::function<void(const Error&)> done;  // the last call: why the link ended
  };

  Link(boost::asio::any_io_executor loop, std::string server, tls::LinkContext context, Handlers handlers);
  ~Link();
  // Dials, then sends `hello` before anything sent later.
  void start(const v1::AgentMessage& hello);
  // In order; dropped once the link has ended.
  void send(const v1::AgentMessage& message);
  void close();

 private:
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> write_queued();
  void end(const Error& why);

  boost::asio::any_io_executor loop_;
  std::string server_;
  tls::LinkContext context_;
  Handlers handlers_;
  std::shared_ptr<tls::FrameStream> stream_;
  tls::FrameOutbox outbox_;
  bool ended_ = false;
};

}  // namespace steward::agent
