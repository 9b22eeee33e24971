#include "tasks/remote.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "inventory/inventory.hpp"
#include "core/spawn.hpp"

namespace steward::tasks {
namespace {

namespace asio = boost::asio;
using asio::awaitable;

// What the concurrent runs share; kept alive by each of them.
struct Gathering {
  explicit Gathering(asio::any_io_executor executor, std::size_t count)
      : outcomes(count), remaining(count), all_done(executor, asio::steady_timer::time_point::max()) {}
  std::vector<RemoteOutcome> outcomes;
  std::size_t remaining;
  asio::steady_timer all_done;
};

awaitable<Result<std::vector<RemoteOutcome>>> run_on_targets(const inventory::Inventory& inventory,
                                                             const transport::TransportRegistry& transports,
                                                             std::string pattern, transport::ExecRequest request,
                                                             CancelToken cancel) {
  auto targets = inventory.targets({pattern});
  if (!targets) co_return targets.error();
  auto executor = co_await asio::this_coro::executor;
  auto gathering = std::make_shared<Gathering>(executor, targets->size());
  // Every target at once; each target's own transport limits still apply.
  for (std::size_t i = 0; i < targets->size(); ++i) {
    const Target& target = (*targets)[i];
    gathering->outcomes[i].target = target.name;
    auto transport = transports.get(target.connection);
    if (!transport) {
      gathering->outcomes[i].outcome = transport.error();
      --gathering->remaining;
      continue;
    }
    auto running = (*transport)->run(target, request, [](transport::Stream, std::string_view) {}, cancel);
    asio::co_spawn(executor, std::move(running),
                   [gathering, i, keep_alive = *transport](std::exception_ptr failure,
                                                            Result<transport::ExecOutcome> outcome) {
                     if (failure) report_spawn_failure("a remote exec on " + gathering->outcomes[i].target, failure);
                     gathering->outcomes[i].outcome =
                         failure ? Result<transport::ExecOutcome>(make_error(ErrorCode::Internal, "the transport failed"))
                                 : std::move(outcome);
                     if (--gathering->remaining == 0) gathering->all_done.cancel();
                   });
  }
  while (gathering->remaining > 0) {
    boost::system::error_code woken;
    co_await gathering->all_done.async_wait(asio::redirect_error(asio::use_awaitable, woken));
  }
  co_return std::move(gathering->outcomes);
}

}  // namespace

RemoteExec remote_exec_on(const inventory::Inventory& inventory, const transport::TransportRegistry& transports) {
  return [&inventory, &transports](const std::string& pattern, const transport::ExecRequest& request,
                                   CancelToken cancel) {
    return run_on_targets(inventory, transports, pattern, request, std::move(cancel));
  };
}

}  // namespace steward::tasks
