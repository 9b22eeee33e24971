#include "transport/agent/hub.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <ctime>

#include "agents/trust.hpp"
#include "core/clock.hpp"
#include "core/ids.hpp"
#include "transport/agent/hub_ops.hpp"

namespace steward::transport::agent {
namespace asio = boost::asio;

namespace {

ErrorCode error_code_of(int number) {
  return number >= 0 && number <= static_cast<int>(ErrorCode::Internal) ? static_cast<ErrorCode>(number)
                                                                        : ErrorCode::Internal;
}

std::string utc_text(double unix_seconds) {
  std::time_t seconds = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", utc);
}

constexpr std::size_t kUnawaitedKept = 1024;  // per agent
// How long settle() waits for the Exit of an operation the agent said it knows.
constexpr std::chrono::seconds kOrphanExitWait{30};

// What an Exit says of an operation the previous server process sent.
OrphanOutcome orphan_outcome_of(const v1::Exit& exit) {
  using Kind = OrphanOutcome::Kind;
  if (!exit.error().empty()) return {Kind::Unknown, -1, 0, "its agent says: " + exit.error()};
  if (exit.cancelled()) return {Kind::Stopped, -1, 0, "its agent stopped operation " + exit.op_id()};
  return {Kind::Finished, exit.exit_code(), exit.signal(), {}};
}

v1::ServerMessage cancel_message(const std::string& op_id) {
  v1::ServerMessage message;
  message.mutable_cancel()->set_op_id(op_id);
  return message;
}

}  // namespace

AgentHub::AgentHub(asio::any_io_executor loop, HubOptions options, agents::Trust* trust)
    : loop_(std::move(loop)), options_(options), trust_(trust), started_at_(unix_now()) {}

AgentHub::~AgentHub() {
  *alive_ = false;
  disk_.join();
}

AgentHub::AgentLink& AgentHub::link_of(const std::string& agent_id) {
  auto& link = links_[agent_id];
  if (!link) {
    link = std::make_unique<AgentLink>();
    link->away_since = started_at_;
    link->away_since_steady = std::chrono::steady_clock::now();
  }
  return *link;
}

AgentHub::AgentLink* AgentHub::live_link(const std::string& agent_id) {
  auto it = links_.find(agent_id);
  return it != links_.end() && it->second->session ? it->second.get() : nullptr;
}

bool AgentHub::connected(const std::string& agent_id) const {
  auto it = links_.find(agent_id);
  return it != links_.end() && it->second->session;
}

std::size_t AgentHub::connected_count() const {
  return static_cast<std::size_t>(
      std::count_if(links_.begin(), links_.end(), [](const auto& entry) { return entry.second->session != nullptr; }));
}

std::vector<ConnectedAgent> AgentHub::connected_agents() const {
  std::vector<ConnectedAgent> agents;
  for (const auto& [id, link] : links_)
    if (link->session) agents.push_back({id, link->hostname, link->labels});
  return agents;
}

void AgentHub::send(const std::string& agent_id, const v1::ServerMessage& message) {
  if (auto* link = live_link(agent_id)) link->session->send(message);
}

void AgentHub::wake_agent(const std::string& agent_id) {
  for (auto& [id, op] : runs_)
    if (op->agent == agent_id) op->wake.cancel();
  for (auto& [id, op] : files_)
    if (op->agent == agent_id) op->wake.cancel();
  for (auto& [nonce, op] : pings_)
    if (op->agent == agent_id) op->wake.cancel();
  for (auto& [id, wait] : orphans_)
    if (wait->agent == agent_id) wait->wake.cancel();
}

std::chrono::steady_clock::time_point AgentHub::away_deadline(const std::string& agent_id) {
  return link_of(agent_id).away_since_steady + options_.agent_wait;
}

std::string AgentHub::away_message(const std::string& agent_id) {
  auto& link = link_of(agent_id);
  bool never = link.away_since == started_at_;
  return fmt::format("agent {} not connected since {}{} (waited --agent-wait {} s)", agent_id,
                     utc_text(link.away_since), never ? ", when the server started" : "",
                     std::chrono::duration_cast<std::chrono::seconds>(options_.agent_wait).count());
}

void AgentHub::attach(const std::string& agent_id, std::shared_ptr<AgentSession> session, const v1::Hello& hello,
                      const std::string& address) {
  auto& link = link_of(agent_id);
  if (link.session) {
    link.session->close(ErrorCode::Conflict, "replaced by a newer connection of the same agent");
    for (auto& [id, op] : files_)
      if (op->agent == agent_id && op->started && !op->broken)
        op->broken = make_error(ErrorCode::Unreachable, "agent " + agent_id + " reconnected during the transfer");
  }
  link.session = std::move(session);
  ++link.generation;
  link.hostname = hello.hostname();
  link.labels = {hello.labels().begin(), hello.labels().end()};
  if (trust_) trust_->note_connected(agent_id, address, hello.version(), hello.hostname(), link.labels);
  if (on_connected_) on_connected_({agent_id, link.hostname, link.labels});
  spdlog::info("agent {} ({}) connected from {}, {} operations in its journal", agent_id, hello.hostname(), address,
               hello.operations_size());

  link.known.clear();
  for (const auto& op : hello.operations()) link.known[op.op_id()] = op.state();
  const auto& known = link.known;
  for (auto& [id, op] : runs_) {
    if (op->agent != agent_id || op->outcome) continue;
    if (known.count(id)) {
      op->accepted = true;  // running, or finished and its Exit follows
    } else if (!op->accepted) {
      link.session->send(op->run);  // never journaled by the agent: safe to send (again)
      op->sent = true;
    } else {
      op->outcome = make_error(ErrorCode::Unreachable, "agent " + agent_id + " no longer knows operation " + id +
                                                           " it accepted (was its state dir reset?)");
    }
  }
  // Running on the agent and awaited by no one (cancelled while it was away,
  // or started before this server restarted): ended.
  for (const auto& [id, state] : known) {
    auto it = runs_.find(id);
    if (state == v1::KnownOperation::RUNNING && (it == runs_.end() || it->second->outcome))
      link.session->send(cancel_message(id));
  }
  wake_agent(agent_id);
}

void AgentHub::detach(const std::string& agent_id, const AgentSession* session) {
  auto it = links_.find(agent_id);
  if (it == links_.end() || it->second->session.get() != session) return;
  auto& link = *it->second;
  link.session.reset();
  link.away_since = unix_now();
  link.away_since_steady = std::chrono::steady_clock::now();
  if (trust_) trust_->note_disconnected(agent_id);
  spdlog::info("agent {} disconnected", agent_id);
  for (auto& [id, op] : files_)
    if (op->agent == agent_id && op->started && !op->broken)
      op->broken = make_error(ErrorCode::Unreachable, "the link to agent " + agent_id + " dropped during the transfer");
  wake_agent(agent_id);
}

void AgentHub::revoke(const std::string& agent_id) {
  if (auto* link = live_link(agent_id)) link->session->close(ErrorCode::PermissionDenied, "this agent was revoked");
}

void AgentHub::close_all(const std::string& reason) {
  for (auto& [id, link] : links_)
    if (link->session) link->session->close(ErrorCode::Unavailable, reason);
}

void AgentHub::receive(const std::string& agent_id, const v1::AgentMessage& message) {
  auto run_of = [&](const std::string& op_id) -> RunOp* {
    auto it = runs_.find(op_id);
    return it != runs_.end() && it->second->agent == agent_id ? it->second.get() : nullptr;
  };
  switch (message.body_case()) {
    case v1::AgentMessage::kAccepted:
      if (auto* op = run_of(message.accepted().op_id())) op->accepted = true;
      break;
    case v1::AgentMessage::kOutput:
      if (auto* op = run_of(message.output().op_id()); op && !op->outcome) take_output(*op, message);
      break;
    case v1::AgentMessage::kExit: {
      v1::ServerMessage ack;
      ack.mutable_result_ack()->set_op_id(message.exit().op_id());
      send(agent_id, ack);
      if (auto* op = run_of(message.exit().op_id())) {
        if (!op->outcome) take_exit(message);
      } else {
        take_unawaited_exit(agent_id, message.exit());
      }
      break;
    }
    case v1::AgentMessage::kCredit:
    case v1::AgentMessage::kFileData:
    case v1::AgentMessage::kFileDone: {
      const std::string& op_id = message.has_credit()      ? message.credit().op_id()
                                 : message.has_file_data() ? message.file_data().op_id()
                                                           : message.file_done().op_id();
      auto it = files_.find(op_id);
      if (it == files_.end() || it->second->agent != agent_id) break;
      it->second->inbox.push_back(message);
      it->second->wake.cancel();
      break;
    }
    case v1::AgentMessage::kPong: {
      if (trust_) trust_->note_seen(agent_id);
      auto it = pings_.find(message.pong().nonce());
      if (it != pings_.end() && it->second->agent == agent_id) {
        it->second->answered = true;
        it->second->wake.cancel();
      }
      break;
    }
    default: break;
  }
}

void AgentHub::take_output(RunOp& op, const v1::AgentMessage& message) {
  const auto& output = message.output();
  auto index = output.stream() == v1::STDERR ? 1 : 0;
  if (op.gap[index]) return;
  auto& delivered = op.delivered[index];
  std::string_view data = output.data();
  if (output.offset() > delivered) {  // lost with a dropped link: Exit has it all
    op.gap[index] = true;
    return;
  }
  auto overlap = delivered - output.offset();
  if (overlap >= data.size()) return;
  data.remove_prefix(overlap);
  delivered += data.size();
  if (op.sink) op.sink(index == 0 ? Stream::Stdout : Stream::Stderr, data);
}

void AgentHub::take_exit(const v1::AgentMessage& message) {
  const auto& exit = message.exit();
  auto& op = *runs_.at(exit.op_id());
  if (!exit.error().empty()) {
    op.outcome = make_error(error_code_of(exit.error_code()), "agent " + op.agent + ": " + exit.error());
  } else {
    ExecOutcome outcome;
    outcome.exit_code = exit.exit_code();
    outcome.signal = exit.signal();
    outcome.timed_out = exit.timed_out();
    outcome.cancelled = exit.cancelled();
    outcome.stdout_truncated = exit.stdout_truncated();
    outcome.stderr_truncated = exit.stderr_truncated();
    outcome.stdout_data = exit.stdout();
    outcome.stderr_data = exit.stderr();
    // What the sink missed while the link was down.
    for (int index = 0; index < 2 && op.sink && !op.keep_tail; ++index) {
      const std::string& kept = index == 0 ? outcome.stdout_data : outcome.stderr_data;
      if (op.delivered[index] < kept.size())
        op.sink(index == 0 ? Stream::Stdout : Stream::Stderr, std::string_view(kept).substr(op.delivered[index]));
    }
    op.outcome = std::move(outcome);
  }
  op.wake.cancel();
}

void AgentHub::take_unawaited_exit(const std::string& agent_id, v1::Exit exit) {
  exit.clear_stdout();  // settle() needs only how it ended
  exit.clear_stderr();
  if (auto it = orphans_.find(exit.op_id()); it != orphans_.end() && it->second->agent == agent_id) {
    it->second->outcome = orphan_outcome_of(exit);
    it->second->wake.cancel();
    return;
  }
  auto& unawaited = link_of(agent_id).unawaited;
  if (unawaited.size() >= kUnawaitedKept) unawaited.erase(unawaited.begin());
  unawaited[exit.op_id()] = std::move(exit);
}

void AgentHub::cancel_run(RunOp& op) {
  if (op.outcome) return;
  if (op.sent && live_link(op.agent)) {
    send(op.agent, cancel_message(op.id));  // its Exit (cancelled) follows
    return;
  }
  // Away: the hello of its next connection has it cancelled if it still runs.
  ExecOutcome cancelled;
  cancelled.cancelled = true;
  op.outcome = std::move(cancelled);
  op.wake.cancel();
}

asio::awaitable<Result<ExecOutcome>> AgentHub::run(std::string agent_id, ExecRequest request, ChunkSink sink,
                                                   CancelToken cancel, std::string op_id) {
  if (op_id.empty()) op_id = "op-" + random_hex(12);
  auto op = std::make_shared<RunOp>(loop_, std::move(op_id), agent_id);
  auto* run = op->run.mutable_run();
  run->set_op_id(op->id);
  for (auto& word : request.argv) run->add_argv(std::move(word));
  run->set_command(std::move(request.command));
  run->mutable_env()->insert(request.env.begin(), request.env.end());
  run->set_cwd(std::move(request.cwd));
  run->set_stdin(std::move(request.stdin_data));
  run->set_timeout_ms(static_cast<std::uint64_t>(request.timeout.count()));
  run->set_output_cap(request.output_cap);
  run->set_keep_tail(request.keep_tail);
  op->keep_tail = request.keep_tail;
  op->sink = std::move(sink);
  runs_[op->id] = op;
  if (live_link(agent_id)) {
    send(agent_id, op->run);
    op->sent = true;
  }
  CancelState::Registration on_cancel;
  if (cancel) on_cancel = cancel->on_cancel([this, op] { cancel_run(*op); });
  auto alive = alive_;
  while (!op->outcome) {
    if (auto* link = live_link(agent_id); !link) {
      auto deadline = away_deadline(agent_id);
      if (std::chrono::steady_clock::now() >= deadline) {
        op->outcome = make_error(ErrorCode::Unreachable, away_message(agent_id));
        break;
      }
      op->wake.expires_at(deadline);
    } else {
      op->wake.expires_at(asio::steady_timer::time_point::max());
    }
    boost::system::error_code ignored;
    co_await op->wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (!*alive) co_return make_error(ErrorCode::Unavailable, "the server is shutting down");
  }
  runs_.erase(op->id);
  co_return std::move(*op->outcome);
}

asio::awaitable<Result<ExecOutcome>> AgentHub::ping(std::string agent_id, std::chrono::milliseconds timeout,
                                                    CancelToken cancel) {
  auto op = std::make_shared<PingOp>(loop_, agent_id);
  auto nonce = ++last_nonce_;
  pings_[nonce] = op;
  CancelState::Registration on_cancel;
  if (cancel) on_cancel = cancel->on_cancel([op] {
    op->cancelled = true;
    op->wake.cancel();
  });
  auto alive = alive_;
  auto give_up_at = std::chrono::steady_clock::now() + timeout;
  std::optional<Result<ExecOutcome>> outcome;
  while (!outcome) {
    auto now = std::chrono::steady_clock::now();
    ExecOutcome ended;
    if (op->answered || op->cancelled || now >= give_up_at) {
      ended.exit_code = op->answered ? 0 : -1;
      ended.cancelled = op->cancelled && !op->answered;
      ended.timed_out = !op->answered && !op->cancelled;
      outcome = ended;
      break;
    }
    auto* link = live_link(agent_id);
    auto wake_at = give_up_at;
    if (!link) {
      auto deadline = away_deadline(agent_id);
      if (now >= deadline) {
        outcome = make_error(ErrorCode::Unreachable, away_message(agent_id));
        break;
      }
      wake_at = std::min(wake_at, deadline);
    } else if (op->sent_on != link->generation) {
      v1::ServerMessage message;
      message.mutable_ping()->set_nonce(nonce);
      link->session->send(message);
      op->sent_on = link->generation;
    }
    op->wake.expires_at(wake_at);
    boost::system::error_code ignored;
    co_await op->wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (!*alive) co_return make_error(ErrorCode::Unavailable, "the server is shutting down");
  }
  pings_.erase(nonce);
  co_return std::move(*outcome);
}

asio::awaitable<OrphanOutcome> AgentHub::settle(std::string agent_id, std::string op_id) {
  using Kind = OrphanOutcome::Kind;
  auto wait = std::make_shared<OrphanWait>(loop_, agent_id);
  orphans_[op_id] = wait;
  auto alive = alive_;
  std::optional<std::chrono::steady_clock::time_point> exit_deadline;
  while (!wait->outcome) {
    if (auto* link = live_link(agent_id)) {
      if (auto kept = link->unawaited.find(op_id); kept != link->unawaited.end()) {
        wait->outcome = orphan_outcome_of(kept->second);
        link->unawaited.erase(kept);
        break;
      }
      if (!link->known.count(op_id)) {
        wait->outcome = OrphanOutcome{Kind::Unknown, -1, 0,
                                      "agent " + agent_id + " does not know operation " + op_id +
                                          " (it never reached the agent, or its result was delivered or expired)"};
        break;
      }
      // Still running (the hello had it cancelled) or finished: its Exit comes.
      if (!exit_deadline) exit_deadline = std::chrono::steady_clock::now() + kOrphanExitWait;
      if (std::chrono::steady_clock::now() >= *exit_deadline) {
        wait->outcome = OrphanOutcome{Kind::Unknown, -1, 0,
                                      "agent " + agent_id + " did not say how operation " + op_id + " ended"};
        break;
      }
      wait->wake.expires_at(*exit_deadline);
    } else {
      auto deadline = away_deadline(agent_id);
      if (std::chrono::steady_clock::now() >= deadline) {
        wait->outcome = OrphanOutcome{Kind::Unknown, -1, 0, "cannot reach the target to look: " + away_message(agent_id),
                                      /*unreachable=*/true};
        break;
      }
      wait->wake.expires_at(deadline);
    }
    boost::system::error_code ignored;
    co_await wait->wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (!*alive) co_return OrphanOutcome{Kind::Unknown, -1, 0, "the server is shutting down"};
  }
  orphans_.erase(op_id);
  co_return std::move(*wait->outcome);
}

}  // namespace steward::transport::agent
