#include "transport/transport.hpp"

namespace steward::transport {

Status TransportRegistry::add(const std::string& name, std::shared_ptr<Transport> transport) {
  if (!transports_.try_emplace(name, std::move(transport)).second)
    return make_error(ErrorCode::Conflict, "connection type '" + name + "' is registered twice");
  return {};
}

Result<std::shared_ptr<Transport>> TransportRegistry::get(const std::string& name) const {
  auto it = transports_.find(name);
  if (it != transports_.end()) return it->second;
  std::string known;
  for (const auto& [known_name, _] : transports_) known += (known.empty() ? "" : ", ") + known_name;
  return make_error(ErrorCode::NotFound,
                    "unknown connection type '" + name + "' (this server has: " + known + ")");
}

boost::asio::awaitable<Result<ExecOutcome>> Transport::ping(const Target& target, std::chrono::milliseconds timeout,
                                                             CancelToken cancel) {
  ExecRequest request;
  request.command = "true";
  request.timeout = timeout;
  auto running = run(target, std::move(request), {}, std::move(cancel));
  auto outcome = co_await std::move(running);
  co_return outcome;
}

boost::asio::awaitable<OrphanOutcome> Transport::settle_orphan(const Target& target, RunProcess) {
  co_return OrphanOutcome{OrphanOutcome::Kind::Unknown, -1, 0,
                          "the '" + target.connection + "' transport cannot look for a command after a restart"};
}

void TransportRegistry::shutdown_all() {
  for (auto& [name, transport] : transports_) transport->shutdown();
}

}  // namespace steward::transport
