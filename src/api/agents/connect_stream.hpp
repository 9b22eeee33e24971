#pragma once
// One agent's Connect stream on the server (private to api/agents).
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/support/byte_buffer.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "transport/agent/hub.hpp"

namespace steward::api::agent_rpc {

class ConnectStream final : public ::grpc::ServerGenericBidiReactor {
 public:
  ConnectStream(::grpc::GenericCallbackServerContext* context, transport::agent::AgentHub& hub, std::string agent_id,
                std::atomic<int>& live);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

  // What the hub holds: outlives the stream, forwards while it lives.
  class Session;

 private:
  friend class Session;
  void read_next();
  void write(std::string bytes);
  void finish(::grpc::Status status);
  void write_next();  // mutex held

  ::grpc::GenericCallbackServerContext* context_;
  transport::agent::AgentHub& hub_;
  std::string agent_id_;
  std::string peer_;
  std::atomic<int>& live_;
  std::shared_ptr<Session> session_;
  ::grpc::ByteBuffer reading_;

  std::mutex mutex_;
  std::deque<std::string> queued_;
  ::grpc::ByteBuffer writing_;
  bool writing_now_ = false;
  bool finished_ = false;
  std::optional<::grpc::Status> finish_after_writes_;
};

}  // namespace steward::api::agent_rpc
