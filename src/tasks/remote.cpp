#include "tasks/remote.hpp"

#include "inventory/inventory.hpp"

namespace steward::tasks {
namespace {

using boost::asio::awaitable;

awaitable<Result<std::vector<RemoteOutcome>>> run_on_targets(const inventory::Inventory& inventory,
                                                             const transport::TransportRegistry& transports,
                                                             std::string pattern, transport::ExecRequest request,
                                                             CancelToken cancel) {
  auto targets = inventory.targets({pattern});
  if (!targets) co_return targets.error();
  std::vector<RemoteOutcome> outcomes;
  for (const auto& target : *targets) {
    auto transport = transports.get(target.connection);
    if (!transport) {
      outcomes.push_back({target.name, transport.error()});
      continue;
    }
    auto running = (*transport)->run(target, request, [](transport::Stream, std::string_view) {}, cancel);
    auto outcome = co_await std::move(running);
    outcomes.push_back({target.name, std::move(outcome)});
  }
  co_return outcomes;
}

}  // namespace

RemoteExec remote_exec_on(const inventory::Inventory& inventory, const transport::TransportRegistry& transports) {
  return [&inventory, &transports](const std::string& pattern, const transport::ExecRequest& request,
                                   CancelToken cancel) {
    return run_on_targets(inventory, transports, pattern, request, std::move(cancel));
  };
}

}  // namespace steward::tasks
