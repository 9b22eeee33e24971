#pragma once
// The server's side of the agent protocol (proto/agent.proto), on the event
// loop: one live session per agent id, the operations in flight on each, and
// the exactly-once rules (issue 13). The listener feeds it sessions and
// messages; the agent transport asks it to run commands and copy files.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/cancel.hpp"
#include "core/result.hpp"
#include "transport/transport.hpp"

namespace steward::agent::v1 {
class AgentMessage;
class ServerMessage;
class Hello;
class Exit;
}  // namespace steward::agent::v1
namespace steward::agents { class Trust; }

namespace steward::transport::agent {

namespace v1 = ::steward::agent::v1;

// One live Connect stream as the hub sees it. Thread-safe.
class AgentSession {
 public:
  virtual ~AgentSession() = default;
  virtual void send(const v1::ServerMessage& message) = 0;
  // Ends the stream with `reason` (the agent sees it).
  virtual void close(ErrorCode code, const std::string& reason) = 0;
};

struct HubOptions {
  std::chrono::milliseconds agent_wait{60000};  // --agent-wait
};

struct ConnectedAgent {
  std::string id;
  std::string hostname;
  std::map<std::string, std::string> labels;
};

struct RunOp;
struct FileOp;
struct PingOp;
struct OrphanWait;

class AgentHub {
 public:
  AgentHub(boost::asio::any_io_executor loop, HubOptions options, agents::Trust* trust = nullptr);
  ~AgentHub();
  boost::asio::any_io_executor loop() const { return loop_; }

  // Listener side, loop only. A session for an id that has one replaces it.
  void attach(const std::string& agent_id, std::shared_ptr<AgentSession> session, const v1::Hello& hello,
              const std::string& address);
  void detach(const std::string& agent_id, const AgentSession* session);
  void receive(const std::string& agent_id, const v1::AgentMessage& message);
  // Closes the live stream of a revoked agent.
  void revoke(const std::string& agent_id);
  void close_all(const std::string& reason);

  // Called on every attach (the inventory adds agents it does not list).
  void on_connected(std::function<void(const ConnectedAgent&)> callback) { on_connected_ = std::move(callback); }
  bool connected(const std::string& agent_id) const;
  std::vector<ConnectedAgent> connected_agents() const;
  std::size_t connected_count() const;

  // Transport side. `op_id`: the operation's id, already recorded by the
  // caller; empty, the hub makes one.
  boost::asio::awaitable<Result<ExecOutcome>> run(std::string agent_id, ExecRequest request, ChunkSink sink,
                                                  CancelToken cancel, std::string op_id = {});
  // After a restart: what became of operation `op_id`, sent to the agent by
  // the server before it died. Waits up to --agent-wait for the agent to
  // connect; the agent's hello says whether it still runs (then it is
  // cancelled, as every operation no run awaits, and reported Stopped),
  // finished (its Exit), or is unknown to it.
  boost::asio::awaitable<OrphanOutcome> settle(std::string agent_id, std::string op_id);
  boost::asio::awaitable<Result<FileOutcome>> put_file(std::string agent_id, FileRequest request, CancelToken cancel);
  boost::asio::awaitable<Result<FileOutcome>> get_file(std::string agent_id, FileRequest request, CancelToken cancel);
  // A round trip through the agent (Ping, then its Pong), sent again on each
  // new stream; waits for an absent agent up to --agent-wait, as run() does.
  boost::asio::awaitable<Result<ExecOutcome>> ping(std::string agent_id, std::chrono::milliseconds timeout,
                                                   CancelToken cancel);

 private:
  struct AgentLink;
  AgentLink& link_of(const std::string& agent_id);
  AgentLink* live_link(const std::string& agent_id);
  void send(const std::string& agent_id, const v1::ServerMessage& message);
  void wake_agent(const std::string& agent_id);
  void take_output(RunOp& op, const v1::AgentMessage& message);
  void take_exit(const v1::AgentMessage& message);
  void take_unawaited_exit(const std::string& agent_id, v1::Exit exit);
  void cancel_run(RunOp& op);
  std::string away_message(const std::string& agent_id);
  // When work waiting for an absent agent gives up (--agent-wait after it left).
  std::chrono::steady_clock::time_point away_deadline(const std::string& agent_id);
  std::shared_ptr<FileOp> begin_file_op(const char* kind, const std::string& agent_id, const CancelToken& cancel,
                                        CancelState::Registration& on_cancel);
  boost::asio::awaitable<Status> wait_for_link(std::shared_ptr<FileOp> op);

  boost::asio::any_io_executor loop_;
  HubOptions options_;
  agents::Trust* trust_;
  double started_at_;
  std::map<std::string, std::unique_ptr<AgentLink>> links_;
  std::map<std::string, std::shared_ptr<RunOp>> runs_;
  std::map<std::string, std::shared_ptr<FileOp>> files_;
  std::map<std::uint64_t, std::shared_ptr<PingOp>> pings_;  // by nonce
  std::uint64_t last_nonce_ = 0;
  std::map<std::string, std::shared_ptr<OrphanWait>> orphans_;
  std::function<void(const ConnectedAgent&)> on_connected_;
  boost::asio::thread_pool disk_{1};  // file transfers' reads and writes
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace steward::transport::agent
