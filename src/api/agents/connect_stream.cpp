#include "api/agents/connect_stream.hpp"

#include <boost/asio/post.hpp>

#include "agent.pb.h"
#include "agent/wire.hpp"
#include "core/allow_list.hpp"
#include "api/grpc/status.hpp"

namespace steward::api::agent_rpc {

namespace v1 = ::steward::agent::v1;

class ConnectStream::Session final : public transport::agent::AgentSession {
 public:
  explicit Session(ConnectStream* stream) : stream_(stream) {}
  void send(const v1::ServerMessage& message) override {
    std::string bytes;
    message.SerializeToString(&bytes);
    std::lock_guard lock(mutex_);
    if (stream_) stream_->write(std::move(bytes));
  }
  void close(ErrorCode code, const std::string& reason) override {
    std::lock_guard lock(mutex_);
    if (stream_) stream_->finish(grpc::status_of(make_error(code, reason)));
  }
  void detach() {
    std::lock_guard lock(mutex_);
    stream_ = nullptr;
  }
  void read_next() {
    std::lock_guard lock(mutex_);
    if (stream_) stream_->read_next();
  }
  bool greeted = false;  // loop only: the Hello has arrived

 private:
  std::mutex mutex_;
  ConnectStream* stream_;
};

ConnectStream::ConnectStream(::grpc::GenericCallbackServerContext* context, transport::agent::AgentHub& hub,
                             std::string agent_id, std::atomic<int>& live)
    : context_(context), hub_(hub), agent_id_(std::move(agent_id)), peer_(grpc_peer_address(context->peer())), live_(live),
      session_(std::make_shared<Session>(this)) {
  ++live_;
  StartSendInitialMetadata();
  StartRead(&reading_);
}

void ConnectStream::OnReadDone(bool ok) {
  if (!ok) {  // the agent closed its side, or the call ended
    finish(::grpc::Status::OK);
    return;
  }
  auto message = std::make_shared<v1::AgentMessage>();
  if (!message->ParseFromString(steward::agent::bytes_of(reading_))) {
    finish(::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT, "not an AgentMessage"));
    return;
  }
  // The next message is read once the loop has handled this one, so a busy
  // server slows the agent down instead of buffering without bound. The
  // session, not the stream, is captured: the stream may be gone by then.
  boost::asio::post(hub_.loop(), [&hub = hub_, session = session_, agent_id = agent_id_, peer = peer_, message] {
    if (!session->greeted) {
      session->greeted = true;
      if (!message->has_hello()) {
        session->close(ErrorCode::InvalidArgument, "the first message must be a Hello");
        return;
      }
      hub.attach(agent_id, session, message->hello(), peer);
    } else {
      hub.receive(agent_id, *message);
    }
    session->read_next();
  });
}

void ConnectStream::read_next() {
  std::lock_guard lock(mutex_);
  if (!finished_ && !finish_after_writes_) StartRead(&reading_);
}

void ConnectStream::write(std::string bytes) {
  std::lock_guard lock(mutex_);
  if (finished_ || finish_after_writes_) return;
  queued_.push_back(std::move(bytes));
  if (!writing_now_) write_next();
}

void ConnectStream::write_next() {
  writing_ = steward::agent::buffer_of(queued_.front());
  queued_.pop_front();
  writing_now_ = true;
  StartWrite(&writing_);
}

void ConnectStream::OnWriteDone(bool ok) {
  std::lock_guard lock(mutex_);
  writing_now_ = false;
  if (!ok) queued_.clear();
  if (!queued_.empty()) {
    write_next();
  } else if (finish_after_writes_ && !finished_) {
    finished_ = true;
    Finish(std::move(*finish_after_writes_));
  }
}

void ConnectStream::finish(::grpc::Status status) {
  std::lock_guard lock(mutex_);
  if (finished_ || finish_after_writes_) return;
  if (writing_now_) {
    finish_after_writes_ = std::move(status);
    return;
  }
  finished_ = true;
  Finish(std::move(status));
}

void ConnectStream::OnDone() {
  session_->detach();
  boost::asio::post(hub_.loop(), [&hub = hub_, agent_id = agent_id_, session = session_] {
    hub.detach(agent_id, session.get());
  });
  --live_;
  delete this;
}

}  // namespace steward::api::agent_rpc
