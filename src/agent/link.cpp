#include "agent/link.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "agent/dial.hpp"
#include "agent/wire.hpp"

namespace steward::agent {
namespace {
namespace asio = boost::asio;
constexpr std::chrono::seconds kDialTimeout{20};
}  // namespace

Link::Link(asio::any_io_executor loop, std::string server, tls::LinkContext context, Handlers handlers)
    : loop_(loop), server_(std::move(server)), context_(std::move(context)), handlers_(std::move(handlers)),
      outbox_(loop) {}

Link::~Link() = default;

void Link::start(const v1::AgentMessage& hello) {
  send(hello);
  asio::co_spawn(loop_, [self = shared_from_this()] { return self->run(); }, asio::detached);
}

void Link::send(const v1::AgentMessage& message) {
  if (!ended_) outbox_.push(frame_of(message));
}

void Link::close() {
  end(make_error(ErrorCode::Cancelled, "closed by the agent"));
}

asio::awaitable<void> Link::run() {
  auto dialled = co_await dial(server_, context_, kDialTimeout);
  if (!dialled) co_return end(dialled.error());
  stream_ = std::move(*dialled);
  if (ended_) co_return stream_->close();
  asio::co_spawn(loop_, [self = shared_from_this()] { return self->write_queued(); }, asio::detached);
  while (!ended_) {
    auto frame = co_await stream_->read_frame(kMaxFrame);
    if (!frame) co_return end(frame.error());
    v1::ServerMessage message;
    if (!message.ParseFromString(*frame))
      co_return end(make_error(ErrorCode::InvalidArgument, "the server sent something that is not a ServerMessage"));
    if (message.has_goodbye()) co_return end(error_of(message.goodbye()));
    if (ended_) break;
    if (message.has_welcome())
      handlers_.up();
    else
      handlers_.message(message);
  }
}

asio::awaitable<void> Link::write_queued() {
  auto written = co_await outbox_.write_to(*stream_);
  if (!written) end(written.error());  // no-op once the link has ended (the outbox dropped)
}

void Link::end(const Error& why) {
  if (ended_) return;
  ended_ = true;
  outbox_.drop();
  if (stream_) stream_->shutdown();
  // Nothing calls the handlers after this one (they may refer to what it ends).
  auto done = std::move(handlers_.done);
  done(why);
}

}  // namespace steward::agent
