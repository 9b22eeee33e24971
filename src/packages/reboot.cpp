#include "packages/reboot.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/strings.hpp"
#include "ops/exec_result.hpp"

namespace steward::packages {
namespace {

using boost::asio::awaitable;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Linux gives every boot a new id: a reboot faster than one interval still shows.
const std::string kBootIdCommand = "cat /proc/sys/kernel/random/boot_id 2>/dev/null; true";
// An ssh probe needs a fresh connection after a reboot; one second is not always enough.
constexpr milliseconds kShortestProbe{5000};
constexpr std::size_t kStderrShown = 512;

milliseconds left(Clock::time_point deadline) {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

double seconds(milliseconds duration) { return static_cast<double>(duration.count()) / 1000.0; }

// Reboot commands and probes are not the action's output.
ops::OpContext quiet(ops::OpContext& context) {
  return {context.transport, context.target, [](transport::Stream, std::string_view) {}, context.cancel};
}

bool cancelled(const ops::OpContext& context) { return context.cancel && context.cancel->cancelled(); }

OpResult outcome(OpState state, std::string error) {
  OpResult result;
  result.state = state;
  result.error = std::move(error);
  return result;
}

struct Answer {
  bool answered = false;
  std::string boot_id;  // empty where the target has none
};

awaitable<Answer> ask(ops::OpContext& context, RebootWait wait, Clock::time_point deadline) {
  transport::ExecRequest probe;
  probe.command = kBootIdCommand;
  probe.timeout = std::min(std::max(wait.interval, kShortestProbe), std::max(left(deadline), milliseconds(1)));
  ops::OpContext silent = quiet(context);
  OpResult answer = co_await ops::run_request(silent, std::move(probe), OpState::Ok);
  co_return Answer{answer.state == OpState::Ok, trim(answer.stdout_data)};
}

// Asks every interval until the target answers after having been down (or
// answers with another boot id than `boot_before`).
awaitable<OpResult> wait_for_answer(ops::OpContext& context, RebootWait wait, Clock::time_point deadline,
                                    bool down_seen, std::string boot_before) {
  const auto started = Clock::now();
  auto executor = co_await boost::asio::this_coro::executor;  // not inside a constructor call (GCC 12, PR 99576)
  boost::asio::steady_timer timer(executor);
  while (!cancelled(context) && left(deadline) > milliseconds(0)) {
    timer.expires_after(std::min(wait.interval, left(deadline)));
    co_await timer.async_wait(boost::asio::use_awaitable);
    if (cancelled(context) || left(deadline) == milliseconds(0)) break;
    Answer answer = co_await ask(context, wait, deadline);
    if (!answer.answered) {
      down_seen = true;
      continue;
    }
    bool new_boot = !boot_before.empty() && !answer.boot_id.empty() && answer.boot_id != boot_before;
    if (down_seen || new_boot) {
      spdlog::info("{}: answers again {:.1f} s after the reboot began", context.target.name,
                   seconds(std::chrono::duration_cast<milliseconds>(Clock::now() - started)));
      co_return outcome(OpState::Changed, "");
    }
  }
  if (cancelled(context)) co_return outcome(OpState::Failed, "cancelled: " + context.cancel->reason());
  if (!down_seen)
    co_return outcome(OpState::Failed, fmt::format("the target kept answering and did not reboot within {:g} s "
                                                   "(HYPERVISOR_WAIT_TIMEOUT); check its steward_reboot_command",
                                                   seconds(wait.timeout)));
  co_return outcome(OpState::Unreachable, fmt::format("the target did not come back within {:g} s after the reboot "
                                                      "(HYPERVISOR_WAIT_TIMEOUT)",
                                                      seconds(wait.timeout)));
}

}  // namespace

awaitable<OpResult> reboot_and_wait(ops::OpContext& context, RebootWait wait) {
  const Target& target = context.target;
  auto configured = target.vars.find("steward_reboot_command");
  const bool has_command = configured != target.vars.end() && !trim(configured->second).empty();
  if (!has_command && target.connection == "local")
    co_return outcome(OpState::Failed, fmt::format("{} is the server's own machine (connection local): set "
                                                   "steward_reboot_command for it to reboot after the action",
                                                   target.name));
  const std::string command = has_command ? configured->second : std::string(kDefaultRebootCommand);
  const auto deadline = Clock::now() + wait.timeout;
  Answer before = co_await ask(context, wait, deadline);

  // The command is not quoted: a reboot command may carry a sudo password.
  spdlog::info("{}: rebooting it as the package asks (restarts = true) with {}", target.name,
               has_command ? "its steward_reboot_command" : kDefaultRebootCommand);
  transport::ExecRequest reboot;
  reboot.command = command;
  reboot.timeout = std::max(left(deadline), milliseconds(1));
  ops::OpContext silent = quiet(context);
  OpResult rebooted = co_await ops::run_request(silent, std::move(reboot), OpState::Ok);
  // A reboot ends the session: the connection drops, or the shell is killed.
  const bool dropped = rebooted.state == OpState::Unreachable || rebooted.signal.has_value();
  if (!dropped && rebooted.state != OpState::Ok) {
    std::string detail = trim(rebooted.stderr_data);
    if (detail.size() > kStderrShown) detail = detail.substr(detail.size() - kStderrShown);
    co_return outcome(OpState::Failed,
                      fmt::format("the reboot command ({}) failed: {}{}{}",
                                  has_command ? "the host's steward_reboot_command" : kDefaultRebootCommand,
                                  rebooted.error, detail.empty() ? "" : ": ", detail));
  }
  std::string boot_before = before.answered ? before.boot_id : std::string();
  OpResult back = co_await wait_for_answer(context, wait, deadline, dropped, std::move(boot_before));
  co_return back;
}

awaitable<OpResult> wait_until_back(ops::OpContext& context, RebootWait wait) {
  spdlog::info("{}: the action dropped the connection; waiting up to {:g} s for the target to come back",
               context.target.name, seconds(wait.timeout));
  const auto deadline = Clock::now() + wait.timeout;
  std::string unknown_boot;
  OpResult back = co_await wait_for_answer(context, wait, deadline, true, std::move(unknown_boot));
  co_return back;
}

}  // namespace steward::packages
