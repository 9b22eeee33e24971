#include "transport/agent/agent_transport.hpp"

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
    // The agent's journal makes every start exactly-once; the server's own
    // supervision journal (local, ssh) has nothing to add here.
    request.journal = nullptr;
    auto running = hub_->run(agent_of(target), std::move(request), std::move(sink), std::move(cancel));
    auto ran = co_await std::move(running);
    co_return ran;
  }

  asio::awaitable<Result<ExecOutcome>> ping(const Target& target, std::chrono::milliseconds timeout,
                                            CancelToken cancel) override {
    if (!hub_) co_return no_listener(target);
    auto pinging = hub_->ping(agent_of(target), timeout, std::move(cancel));
    auto answered = co_await std::move(pinging);
    co_return answered;
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
