#include "agent/link.hpp"

#include <boost/asio/post.hpp>

#include "agent/wire.hpp"

namespace steward::agent {

Link::Link(boost::asio::any_io_executor loop, std::shared_ptr<::grpc::Channel> channel, Handlers handlers)
    : loop_(std::move(loop)), channel_(std::move(channel)), stub_(channel_), handlers_(std::move(handlers)) {}

void Link::start(const v1::AgentMessage& hello) {
  self_ = shared_from_this();
  stub_.PrepareBidiStreamingCall(&context_, kConnectMethod, {}, this);
  send(hello);
  StartRead(&reading_);
  StartCall();
}

void Link::send(const v1::AgentMessage& message) {
  std::string bytes;
  message.SerializeToString(&bytes);
  std::lock_guard lock(mutex_);
  if (ended_) return;
  queued_.push_back(std::move(bytes));
  if (!writing_now_) write_next();
}

void Link::write_next() {
  writing_ = buffer_of(queued_.front());
  queued_.pop_front();
  writing_now_ = true;
  StartWrite(&writing_);
}

void Link::OnWriteDone(bool ok) {
  std::lock_guard lock(mutex_);
  writing_now_ = false;
  if (!ok) {
    ended_ = true;
    queued_.clear();
    return;
  }
  if (!queued_.empty()) write_next();
}

void Link::OnReadInitialMetadataDone(bool ok) {
  if (ok) boost::asio::post(loop_, [self = shared_from_this()] { self->handlers_.up(); });
}

void Link::OnReadDone(bool ok) {
  if (!ok) return;  // the stream ended: OnDone follows
  v1::ServerMessage message;
  bool parsed = message.ParseFromString(bytes_of(reading_));
  // The hold keeps the call from ending before the loop asks for the next read.
  AddHold();
  boost::asio::post(loop_, [self = shared_from_this(), message = std::move(message), parsed] {
    if (parsed) self->handlers_.message(message);
    self->StartRead(&self->reading_);
    self->RemoveHold();
  });
}

void Link::close() {
  context_.TryCancel();
}

void Link::OnDone(const ::grpc::Status& status) {
  {
    std::lock_guard lock(mutex_);
    ended_ = true;
    queued_.clear();
  }
  boost::asio::post(loop_, [self = std::move(self_), status] { self->handlers_.done(status); });
}

}  // namespace steward::agent
