// Every co_await here stands in a statement of its own, apart from the call
// that builds the awaitable: GCC 12 destroys temporaries of a
// full-expression holding a co_await twice (PR 99576).
#include "transport/qga/guest_exec.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>

#include <algorithm>
#include <cctype>

#include "core/signal.hpp"
#include "transport/qga/base64.hpp"
#include "transport/shell.hpp"

namespace steward::transport::qga {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// qemu-ga only tells "exited" when asked: a short first poll keeps quick
// commands quick, the back-off keeps long ones from flooding the socket.
constexpr milliseconds kFirstPoll{5};
constexpr milliseconds kMaxPoll{100};
constexpr milliseconds kKillGrace{2000};  // TERM to KILL, as the local runner
// After KILL, how long the agent gets to report the end before we stop asking.
constexpr milliseconds kGiveUpAfterKill{5000};

// The wrapper prints one of these as its last stderr line, and exits 127,
// when it cannot start what was asked; only the wrapper can tell that apart
// from a command that itself exits 127.
constexpr std::string_view kCannotRun = "@steward-cannot-run:";

std::string where(const Channel& channel, const std::string& target) {
  return fmt::format("{} (qga socket {})", target, channel.socket_path());
}

// The group leader's pid names the group; best effort, as the group may be gone.
awaitable<void> signal_group(Channel& channel, const std::string& target, std::int64_t pgid, const char* signal) {
  // `-s NAME --`: dash's kill takes no `--` after `-NAME`.
  json::array args{"-c", fmt::format("kill -s {} -- -{} 2>/dev/null; exit 0", signal, pgid)};
  json::object arguments{{"path", "/bin/sh"}, {"arg", std::move(args)}};
  auto starting = channel.call(target, "guest-exec", std::move(arguments));
  auto started = co_await std::move(starting);
  auto pid = started ? integer_field(*started, "pid") : std::nullopt;
  if (!pid) {
    spdlog::warn("qga {}: cannot send SIG{} to process group {}: {}", target, signal, pgid,
                 started ? "no pid in the reply" : started.error().message);
    co_return;
  }
  // Reaped so qemu-ga forgets it; kill returns at once.
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer pause(executor);
  const auto give_up = Clock::now() + kGiveUpAfterKill;
  while (Clock::now() < give_up) {
    auto asking = channel.call(target, "guest-exec-status", json::object{{"pid", *pid}});
    auto status = co_await std::move(asking);
    if (!status || true_field(*status, "exited")) co_return;
    pause.expires_after(kFirstPoll);
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

// Keeps what the cap allows of a base64 stream from the final status.
Status take_output(const json::value& status, std::string_view key, std::size_t cap, bool keep_tail,
                   std::string& kept, bool& truncated) {
  const auto& fields = status.as_object();
  if (const auto* data = fields.if_contains(fmt::format("{}-data", key)); data && data->is_string()) {
    auto bytes = base64_decode(data->as_string());
    if (!bytes) return make_error(ErrorCode::Internal, fmt::format("qemu-ga sent {}-data that is not base64", key));
    kept.clear();
    exec::keep_within_cap(kept, truncated, *bytes, cap, keep_tail);
  }
  // qemu-ga stops capturing at its own limit (16 MiB) and says so.
  if (true_field(status, fmt::format("{}-truncated", key))) truncated = true;
  return {};
}

// A status poll that failed: the process is out of reach, and most likely
// gone with the agent that started it.
Error lost_while_running(const Channel& channel, const std::string& target, Error error, int connects_at_start) {
  const bool agent_replaced = channel.connects() != connects_at_start;  // a new agent does not know the pid
  if (error.code != ErrorCode::Unreachable && !agent_replaced) return error;
  const std::string prefix = where(channel, target) + ": ";
  std::string detail = error.message.starts_with(prefix) ? error.message.substr(prefix.size()) : error.message;
  return make_error(ErrorCode::Unreachable,
                    fmt::format("{}connection lost while the command ran ({})", prefix, detail));
}

// The outcome from the final guest-exec-status: exit, signal, capped output;
// NotFound when the wrapper says it could not start the program.
Result<ExecOutcome> finish(const json::value& status, ExecOutcome outcome, const ExecRequest& request) {
  if (auto code = integer_field(status, "exitcode")) outcome.exit_code = static_cast<int>(*code);
  if (auto signal = integer_field(status, "signal")) {
    outcome.signal = static_cast<int>(*signal);
    outcome.exit_code = -1;
  }
  // Uncapped first: the wrapper's marker is the last line.
  if (auto taken = take_output(status, "err", SIZE_MAX, false, outcome.stderr_data, outcome.stderr_truncated);
      !taken) {
    return taken.error();
  }
  const auto& err = outcome.stderr_data;
  if (!outcome.timed_out && !outcome.cancelled && outcome.exit_code == 127) {
    if (!request.argv.empty() && err.ends_with(fmt::format("{}program\n", kCannotRun))) {
      return make_error(ErrorCode::NotFound, "cannot run " + request.argv.front() + ": not found or not executable");
    }
    if (!request.cwd.empty() && err.ends_with(fmt::format("{}cwd\n", kCannotRun))) {
      return make_error(ErrorCode::NotFound, "working directory does not exist: " + request.cwd);
    }
  }
  std::string stderr_data = std::move(outcome.stderr_data);
  outcome.stderr_data.clear();
  exec::keep_within_cap(outcome.stderr_data, outcome.stderr_truncated, stderr_data, request.output_cap,
                        request.keep_tail);
  if (auto taken = take_output(status, "out", request.output_cap, request.keep_tail, outcome.stdout_data,
                               outcome.stdout_truncated);
      !taken) {
    return taken.error();
  }
  return outcome;
}

}  // namespace


Result<GuestCommand> guest_command(const ExecRequest& request) {
  std::string script;
  for (const auto& [name, value] : request.env) {
    if (!is_shell_identifier(name)) {
      return make_error(ErrorCode::InvalidArgument, "environment name is not valid: " + shell_quote(name));
    }
    script += fmt::format("export {}={}; ", name, shell_quote(value));
  }
  if (!request.cwd.empty()) {
    script += fmt::format("cd -- {} 2>/dev/null || {{ echo {}cwd >&2; exit 127; }}; ", shell_quote(request.cwd),
                          kCannotRun);
  }
  // The request's words travel as positional parameters, never re-parsed.
  // qemu-ga never makes its child a group leader, so setsid execs in place
  // and the pid guest-exec returns is the new group's leader.
  GuestCommand command{"setsid", {"/bin/sh", "-c", "", "sh"}};
  if (request.argv.empty()) {
    script += "exec /bin/sh -c \"$1\"";
    command.args.push_back(request.command);
  } else {
    // `exec` of a missing program would end the shell before it could say
    // so, hence the look-up first.
    script += fmt::format(
        "case $1 in */*) [ -f \"$1\" ] && [ -x \"$1\" ] ;; *) command -v -- \"$1\" >/dev/null 2>&1 ;; esac "
        "|| {{ echo {}program >&2; exit 127; }}; exec \"$@\"",
        kCannotRun);
    command.args.insert(command.args.end(), request.argv.begin(), request.argv.end());
  }
  command.args[2] = std::move(script);
  return command;
}

awaitable<Result<ExecOutcome>> run_on_guest(Channel& channel, const std::string& target, const ExecRequest& request,
                                            ChunkSink sink, CancelToken cancel) {
  auto command = guest_command(request);
  if (!command) co_return command.error();
  if (cancel && cancel->cancelled()) {
    ExecOutcome never_started;
    never_started.cancelled = true;
    co_return never_started;
  }
  json::object arguments{{"path", command->path},
                         {"arg", json::array(command->args.begin(), command->args.end())},
                         {"capture-output", true}};
  if (!request.stdin_data.empty()) arguments["input-data"] = base64_encode(request.stdin_data);
  auto starting = channel.call(target, "guest-exec", std::move(arguments));
  auto started = co_await std::move(starting);
  if (!started) {
    // qemu-ga could not start the program (here: setsid, which the guest lacks).
    if (started.error().message.find("Failed to execute") != std::string::npos) {
      co_return make_error(ErrorCode::NotFound, started.error().message);
    }
    co_return started.error();
  }
  const auto pid = integer_field(*started, "pid");
  const int connects = channel.connects();
  if (!pid) co_return make_error(ErrorCode::Internal, where(channel, target) + ": guest-exec returned no pid");

  Signal wake;
  CancelState::Registration on_cancel;
  if (cancel) on_cancel = cancel->on_cancel([&wake] { wake.notify_all(); });
  const auto deadline = request.timeout.count() > 0 ? Clock::now() + request.timeout : Clock::time_point::max();
  auto kill_at = Clock::time_point::max();
  auto give_up_at = Clock::time_point::max();
  bool ending = false;
  ExecOutcome outcome;
  std::optional<json::value> final_status;
  for (milliseconds interval = kFirstPoll;; interval = std::min(interval * 2, kMaxPoll)) {
    auto asking = channel.call(target, "guest-exec-status", json::object{{"pid", *pid}});
    auto status = co_await std::move(asking);
    if (!status) co_return lost_while_running(channel, target, status.error(), connects);
    if (true_field(*status, "exited")) {
      final_status = std::move(*status);
      break;
    }
    const auto now = Clock::now();
    const bool cancelled = cancel && cancel->cancelled();
    if (!ending && (cancelled || now >= deadline)) {
      ending = true;
      outcome.cancelled = cancelled;
      outcome.timed_out = !cancelled;
      co_await signal_group(channel, target, *pid, "TERM");
      kill_at = Clock::now() + kKillGrace;
      give_up_at = kill_at + kGiveUpAfterKill;
      interval = kFirstPoll / 2;  // doubled on the way round: most commands end at once on TERM
      continue;
    }
    if (now >= kill_at) {
      co_await signal_group(channel, target, *pid, "KILL");
      kill_at = Clock::time_point::max();
    }
    if (now >= give_up_at) {
      spdlog::warn("qga {}: process group {} did not end after SIGKILL; giving up on it", target, *pid);
      break;
    }
    const auto next = std::min({now + interval, ending ? std::min(kill_at, give_up_at) : deadline});
    co_await wake.wait_until(next);
  }
  // What the leader left running in its group goes too, as with the local runner.
  if (ending) co_await signal_group(channel, target, *pid, "KILL");
  if (!final_status) co_return outcome;
  auto finished = finish(*final_status, std::move(outcome), request);
  if (!finished) co_return make_error(finished.error().code, where(channel, target) + ": " + finished.error().message);
  if (sink && !finished->stdout_data.empty()) sink(Stream::Stdout, finished->stdout_data);
  if (sink && !finished->stderr_data.empty()) sink(Stream::Stderr, finished->stderr_data);
  co_return finished;
}

}  // namespace steward::transport::qga
