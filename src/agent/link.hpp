#pragma once
// One Connect stream from the agent to the server (gRPC's generic callback
// API, no generated stubs). gRPC calls back on its own threads; messages are
// handed to the loop one at a time, and the next is read only once the loop
// has handled the last (back-pressure, nothing dropped). send() is
// thread-safe and never drops while the stream is up.
#include <grpcpp/grpcpp.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/client_callback.h>

#include <boost/asio/any_io_executor.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "agent.pb.h"

namespace steward::agent {

namespace v1 = ::steward::agent::v1;

class Link final : public ::grpc::ClientBidiReactor<::grpc::ByteBuffer, ::grpc::ByteBuffer>,
                   public std::enable_shared_from_this<Link> {
 public:
  struct Handlers {
    std::function<void()> up;  // the server answered (initial metadata)
    std::function<void(const v1::ServerMessage&)> message;
    std::function<void(const ::grpc::Status&)> done;  // last call
  };

  Link(boost::asio::any_io_executor loop, std::shared_ptr<::grpc::Channel> channel, Handlers handlers);
  // Starts the call with `hello` as its first message.
  void start(const v1::AgentMessage& hello);
  void send(const v1::AgentMessage& message);
  void close();

  void OnReadInitialMetadataDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const ::grpc::Status& status) override;

 private:
  void write_next();  // mutex held

  boost::asio::any_io_executor loop_;
  std::shared_ptr<::grpc::Channel> channel_;
  ::grpc::GenericStub stub_;
  ::grpc::ClientContext context_;
  Handlers handlers_;
  std::shared_ptr<Link> self_;  // alive until OnDone
  ::grpc::ByteBuffer reading_;

  std::mutex mutex_;
  std::deque<std::string> queued_;
  ::grpc::ByteBuffer writing_;
  bool writing_now_ = false;
  bool ended_ = false;
};

}  // namespace steward::agent
