#include "api/agents/agent_link.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "agent.pb.h"
#include "agent/wire.hpp"

namespace steward::api::agent_rpc {

namespace asio = boost::asio;
using steward::agent::frame_of;

AgentLink::AgentLink(std::shared_ptr<tls::FrameStream> stream, transport::agent::AgentHub& hub, std::string agent_id)
    : stream_(std::move(stream)), hub_(hub), agent_id_(std::move(agent_id)),
      wake_writer_(hub.loop(), asio::steady_timer::time_point::max()) {}

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
  if (!closing_) cut();
}

void AgentLink::send(const v1::ServerMessage& message) {
  if (!closing_ && !ended_) queue(frame_of(message));
}

void AgentLink::close(ErrorCode code, const std::string& reason) {
  if (closing_ || ended_) return;
  v1::ServerMessage goodbye;
  goodbye.mutable_goodbye()->set_error_code(static_cast<int>(code));
  goodbye.mutable_goodbye()->set_message(reason);
  queue(frame_of(goodbye));
  closing_ = true;
}

void AgentLink::cut() {
  ended_ = true;
  queued_.clear();
  wake_writer_.cancel();
  stream_->close();
}

void AgentLink::queue(std::string frame) {
  queued_.push_back(std::move(frame));
  wake_writer_.cancel();
}

asio::awaitable<void> AgentLink::write_queued() {
  auto self = shared_from_this();  // the hub may let go of the session first
  while (!ended_) {
    while (!queued_.empty() && !ended_) {
      const std::string frame = std::move(queued_.front());
      queued_.pop_front();
      auto written = co_await stream_->write_frame(frame);
      if (!written) co_return cut();
    }
    if (closing_) co_return stream_->shutdown();
    if (ended_) break;
    wake_writer_.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code woken;
    co_await wake_writer_.async_wait(asio::redirect_error(asio::use_awaitable, woken));
  }
}

}  // namespace steward::api::agent_rpc
