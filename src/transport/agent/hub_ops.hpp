#pragma once
// What the hub keeps per operation in flight; private to transport/agent.
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <deque>
#include <optional>
#include <string>

#include "agent.pb.h"
#include "transport/agent/hub.hpp"

namespace steward::transport::agent {

struct AgentHub::AgentLink {
  std::shared_ptr<AgentSession> session;
  std::uint64_t generation = 0;  // of the session: counts attaches
  std::chrono::steady_clock::time_point away_since_steady;
  double away_since = 0;  // Unix seconds
  std::string hostname;
  std::map<std::string, std::string> labels;
  std::map<std::string, v1::KnownOperation::State> known;  // the operations in its last hello
  // Exits of operations no run awaited (begun before a restart), kept for
  // settle(), which may ask after they arrive; bounded.
  std::map<std::string, v1::Exit> unawaited;
};

struct RunOp {
  RunOp(boost::asio::any_io_executor loop, std::string op_id, std::string agent_id)
      : id(std::move(op_id)), agent(std::move(agent_id)), wake(loop) {}
  std::string id;
  std::string agent;
  v1::ServerMessage run;  // sent again after a reconnect while the agent does not know it
  ChunkSink sink;
  bool keep_tail = false;
  bool sent = false;
  bool accepted = false;
  std::array<std::uint64_t, 2> delivered{};  // bytes of each stream given to the sink
  std::array<bool, 2> gap{};                 // a chunk was lost: the rest comes from Exit
  std::optional<Result<ExecOutcome>> outcome;
  boost::asio::steady_timer wake;
};

struct OrphanWait {
  OrphanWait(boost::asio::any_io_executor loop, std::string agent_id) : agent(std::move(agent_id)), wake(loop) {}
  std::string agent;
  std::optional<OrphanOutcome> outcome;
  boost::asio::steady_timer wake;
};

struct FileOp {
  FileOp(boost::asio::any_io_executor loop, std::string op_id, std::string agent_id)
      : id(std::move(op_id)), agent(std::move(agent_id)), wake(loop) {}
  std::string id;
  std::string agent;
  bool started = false;  // sent to the agent: a dropped link ends it
  std::deque<v1::AgentMessage> inbox;  // at most the credit window of FileData
  std::optional<Error> broken;
  boost::asio::steady_timer wake;
};

struct PingOp {
  PingOp(boost::asio::any_io_executor loop, std::string agent_id) : agent(std::move(agent_id)), wake(loop) {}
  std::string agent;
  std::uint64_t sent_on = 0;  // the link generation it was last sent on
  bool answered = false;
  bool cancelled = false;
  boost::asio::steady_timer wake;
};

}  // namespace steward::transport::agent
