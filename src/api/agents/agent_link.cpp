#include "api/agents/agent_link.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "agent.pb.h"
#include "agent/wire.hpp"

namespace steward::api::agent_rpc {

namespace asio = boost::asio;
using steward::agent::frame_of;

AgentLink::AgentLink(std::shared_ptr<tls::FrameStream> stream, transport::agent::AgentHub& hub, std::string agent_id)
    : stream_(std::move(stream)), hub_(hub), agent_id_(std::move(agent_id)),
      outbox_(hub.loop()) {}

asio::awaitable<void> AgentLink::serve(v1::Hello hello) {
  auto self = shared_from_this();
  v1::ServerMessage welcome;
  welcome.mutable_welcome();
  send(welcome);
  asio::co_spawn(hub_.loop(), [self] { return self->write_queued(); }, asio::detached);
  hub_.attach(agent_id_, self, hello, stream_->peer());
  while (!stream_->closed()) {
    auto frame = co_await stream_->read_frame(steward::agent::kMaxFrame);
    if (!frame) {
      if (frame.error().code == ErrorCode::InvalidArgument) close(ErrorCode::InvalidArgument, frame.error().message);
      break;
    }
    v1::AgentMessage message;
    if (!message.ParseFromString(*frame)) {
      close(ErrorCode::InvalidArgument, "not an AgentMessage");
      break;
    }
    hub_.receive(agent_id_, message);
  }
  hub_.detach(agent_id_, this);
  // A Goodbye being written still goes out; otherwise the writer ends now.
  if (!outbox_.finishing()) cut();
}

void AgentLink::send(const v1::ServerMessage& message) {
  outbox_.push(frame_of(message));  // ignored once closing or cut
}

void AgentLink::close(ErrorCode code, const std::string& reason) {
  if (!outbox_.open()) return;
  v1::ServerMessage goodbye;
  goodbye.mutable_goodbye()->set_error_code(static_cast<int>(code));
  goodbye.mutable_goodbye()->set_message(reason);
  outbox_.push(frame_of(goodbye));
  outbox_.finish();
}

void AgentLink::cut() {
  outbox_.drop();
  stream_->close();
}

asio::awaitable<void> AgentLink::write_queued() {
  auto self = shared_from_this();  // the hub may let go of the session first
  auto written = co_await outbox_.write_to(*stream_);
  if (written) stream_->shutdown();  // the Goodbye is out
  else cut();
}

}  // namespace steward::api::agent_rpc
