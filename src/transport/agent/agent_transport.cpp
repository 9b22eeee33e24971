#include "transport/agent/agent_transport.hpp"

#include <utility>

#include "core/ids.hpp"
#include "transport/agent/hub.hpp"

namespace steward::transport {
namespace {

namespace asio = boost::asio;

std::string agent_of(const Target& target) { return target.var("steward_agent_id", target.name); }

Error no_listener(const Target& target) {
  return make_error(ErrorCode::Unreachable, "host " + target.name +
                                                " uses ansible_connection=agent, but the server has no agent "
                                                "listener (start it with --agent-listen ADDR:PORT)");
}

class AgentTransport final : public Transport {
 public:
  explicit AgentTransport(std::shared_ptr<agent::AgentHub> hub) : hub_(std::move(hub)) {}

  asio::awaitable<Result<ExecOutcome>> run(const Target& target, ExecRequest request, ChunkSink sink,
                                           CancelToken cancel) override {
    if (!hub_) co_return no_listener(target);
    // The agent's journal makes every start exactly-once. The server records
    // the operation's id before sending it, so that after a crash it can ask
    // the agent what became of it (settle_orphan).
    std::string op_id = "op-" + random_hex(12);
    if (auto journal = std::exchange(request.journal, nullptr)) {
      RunProcess process;
      process.status_path = op_id;
      auto recording = journal->started(std::move(process));
      auto recorded = co_await std::move(recording);
      if (!recorded) co_return recorded.error();
    }
    auto running = hub_->run(agent_of(target), std::move(request), std::move(sink), std::move(cancel), op_id);
    auto ran = co_await std::move(running);
    co_return ran;
  }

  ConnectionStats connection_stats() const override {
    const std::size_t connected = hub_ ? hub_->connected_count() : 0;
    return {connected, connected};
  }

  asio::awaitable<Result<ExecOutcome>> ping(const Target& target, std::chrono::milliseconds timeout,
                                            CancelToken cancel) override {
    if (!hub_) co_return no_listener(target);
    auto pinging = hub_->ping(agent_of(target), timeout, std::move(cancel));
    auto answered = co_await std::move(pinging);
    co_return answered;
  }

  asio::awaitable<OrphanOutcome> settle_orphan(const Target& target, RunProcess process) override {
    if (!hub_) co_return OrphanOutcome{OrphanOutcome::Kind::Unknown, -1, 0, no_listener(target).message, true};
    auto settling = hub_->settle(agent_of(target), process.status_path);
    auto settled = co_await std::move(settling);
    co_return settled;
  }

  asio::awaitable<Result<FileOutcome>> put_file(const Target& target, FileRequest request, CancelToken cancel) override {
    if (!hub_) co_return no_listener(target);
    auto copying = hub_->put_file(agent_of(target), std::move(request), std::move(cancel));
    auto copied = co_await std::move(copying);
    co_return copied;
  }

  asio::awaitable<Result<FileOutcome>> get_file(const Target& target, FileRequest request, CancelToken cancel) override {
    if (!hub_) co_return no_listener(target);
    auto copying = hub_->get_file(agent_of(target), std::move(request), std::move(cancel));
    auto copied = co_await std::move(copying);
    co_return copied;
  }

 private:
  std::shared_ptr<agent::AgentHub> hub_;
};

}  // namespace

std::shared_ptr<Transport> make_agent_transport(std::shared_ptr<agent::AgentHub> hub) {
  return std::make_shared<AgentTransport>(std::move(hub));
}

}  // namespace steward::transport
