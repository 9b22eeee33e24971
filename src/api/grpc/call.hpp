#pragma once
// One call to the generic gRPC service. gRPC runs the reactor callbacks on
// its own threads; the call reads the single request message, hands the call
// to the event loop, and takes replies from there. write() and finish() are
// thread-safe; after finish() nothing may touch the call again.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/support/byte_buffer.h>

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace steward::api::grpc {

class Call final : public ::grpc::ServerGenericBidiReactor {
 public:
  // Runs on the loop once the request message has arrived.
  using Start = std::function<void(Call&)>;
  // Runs once with the status the call finishes with, on whichever thread finishes it.
  using Finished = std::function<void(const Call&, const ::grpc::Status&)>;
  // Stream messages a slow client has not taken beyond this are dropped, oldest first.
  static constexpr std::size_t kMaxQueued = 256;

  // `live` counts the calls not yet done (the server waits for them at shutdown).
  // `caller`: who makes the call (a token's name, never the token).
  // `finished` may be empty.
  Call(::grpc::GenericCallbackServerContext* context, boost::asio::any_io_executor loop, std::string caller,
       Start start, std::atomic<int>& live, Finished finished = {});

  const std::string& method() const { return context_->method(); }
  const std::string& caller() const { return caller_; }
  const std::string& request() const { return request_; }

  // For the audit trail: the targets and the identifier the method learnt
  // of, set on the loop before it finishes the call.
  std::vector<std::string> audit_targets;
  std::string audit_subject;

  void write(std::string message);
  void finish(::grpc::Status status);
  // Loop-thread only. `callback` runs on the loop when the client goes away
  // (cancelled, disconnected, deadline); at once if it already has.
  void on_cancel(std::function<void()> callback);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // What the loop knows about the call; outlives the call itself, so a
  // cancellation posted to the loop never touches a deleted call.
  struct LoopSide {
    bool cancelled = false;
    std::function<void()> on_cancel;
  };

  void start_next_write();  // mutex held

  ::grpc::GenericCallbackServerContext* context_;
  boost::asio::any_io_executor loop_;
  std::string caller_;
  Start start_;
  std::atomic<int>& live_;
  Finished finished_hook_;
  std::shared_ptr<LoopSide> loop_side_ = std::make_shared<LoopSide>();
  ::grpc::ByteBuffer request_buffer_;
  std::string request_;

  std::mutex mutex_;
  std::deque<std::string> queued_;
  ::grpc::ByteBuffer writing_buffer_;
  bool writing_ = false;
  bool finished_ = false;
  std::optional<::grpc::Status> finish_after_writes_;
};

}  // namespace steward::api::grpc
