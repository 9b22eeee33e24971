#include "exec/process.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

#ifndef P_PIDFD
#define P_PIDFD 3  // Linux 5.4; older glibc headers lack the name
#endif

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "exec/spawn.hpp"
#include "core/spawn.hpp"

namespace steward::exec {
namespace asio = boost::asio;
using asio::awaitable;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

namespace {

// Output a child's leftover background processes may still hold open after it
// exits; we read on for this long, then stop (we do not kill them: they may be
// daemons the command meant to start).
constexpr std::chrono::milliseconds kDrainAfterExit{500};

// Shared by the coroutines that serve one child; the last one out frees it.
struct RunState : std::enable_shared_from_this<RunState> {
  RunState(asio::any_io_executor ex, const SpawnedChild& child, ChunkSink chunk_sink,
           const ProcessSpec& spec)
      : in(ex, child.stdin_fd),
        out(ex, child.stdout_fd),
        err(ex, child.stderr_fd),
        pidfd(ex, child.pidfd),
        wake(ex),
        deadline(ex),
        kill_timer(ex),
        drain_timer(ex),
        pid(child.pid),
        sink(std::move(chunk_sink)),
        cap(spec.output_cap),
        keep_tail(spec.keep_tail),
        grace(spec.kill_grace) {}

  ~RunState() {
    if (!reaped) {  // abandoned mid-run (loop stopped): leave nothing behind
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }

  bool finished() const { return reaped && (open_streams == 0 || drain_expired); }
  void notify() { wake.cancel(); }

  void deliver(Stream which, std::string_view data) {
    auto& kept = which == Stream::Stdout ? outcome.stdout_data : outcome.stderr_data;
    auto& truncated = which == Stream::Stdout ? outcome.stdout_truncated : outcome.stderr_truncated;
    auto delivered = keep_within_cap(kept, truncated, data, cap, keep_tail);
    if (sink && !delivered.empty()) sink(which, delivered);
  }

  // SIGTERM to the whole group now, SIGKILL after the grace period.
  void terminate() {
    if (terminating || reaped) return;
    terminating = true;
    ::kill(-pid, SIGTERM);
    kill_timer.expires_after(grace);
    kill_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto state = weak.lock();
      if (!ec && state && !state->reaped) ::kill(-state->pid, SIGKILL);
    });
  }

  asio::posix::stream_descriptor in, out, err, pidfd;
  asio::steady_timer wake, deadline, kill_timer, drain_timer;
  pid_t pid;
  ChunkSink sink;
  std::size_t cap;
  bool keep_tail;
  std::chrono::milliseconds grace;
  ProcessOutcome outcome;
  int open_streams = 2;
  bool reaped = false;
  bool terminating = false;
  bool drain_expired = false;
};

awaitable<void> pump(std::shared_ptr<RunState> state, Stream which) {
  auto& desc = which == Stream::Stdout ? state->out : state->err;
  std::array<char, 64 * 1024> buffer;
  for (;;) {
    auto [ec, n] = co_await desc.async_read_some(asio::buffer(buffer), kNoThrow);
    if (n > 0) state->deliver(which, std::string_view(buffer.data(), n));
    if (ec) break;
  }
  --state->open_streams;
  state->notify();
}

awaitable<void> feed_stdin(std::shared_ptr<RunState> state, std::string data) {
  if (!data.empty()) co_await asio::async_write(state->in, asio::buffer(data), kNoThrow);
  boost::system::error_code ignored;
  state->in.close(ignored);
}

void record_exit_status(ProcessOutcome& outcome, const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) {
    outcome.exit_code = info.si_status;
  } else if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
    outcome.signal = info.si_status;
  }
}

// Reaps the child through its pidfd, without blocking: never another process
// that was given the same pid (pids wrap at 32,768 on many machines), and a
// wake-up that is not the child's exit only waits again. A blocking
// waitpid(pid) here once held the whole event loop until an unrelated child
// ended, and that child was waiting for the loop.
awaitable<bool> reap(RunState& state) {
  for (;;) {
    auto [ec] = co_await state.pidfd.async_wait(asio::posix::descriptor_base::wait_read, kNoThrow);
    if (ec) co_return false;  // abandoned; the destructor reaps
    siginfo_t info{};
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(state.pidfd.native_handle()), &info,
                 WEXITED | WNOHANG) != 0) {
      if (errno == EINTR) continue;
      co_return true;  // gone already (ECHILD): its status is unknown
    }
    if (info.si_pid == 0) continue;  // not exited yet
    record_exit_status(state.outcome, info);
    co_return true;
  }
}

awaitable<void> await_exit(std::shared_ptr<RunState> state) {
  const bool reaped = co_await reap(*state);
  if (!reaped) co_return;
  state->reaped = true;
  // What the leader left running in its group after a timeout or cancel goes too.
  if (state->terminating) ::kill(-state->pid, SIGKILL);
  state->notify();
  if (state->open_streams > 0) {
    state->drain_timer.expires_after(kDrainAfterExit);
    auto [timer_ec] = co_await state->drain_timer.async_wait(kNoThrow);
    if (!timer_ec) {
      state->drain_expired = true;
      state->notify();
    }
  }
}

void arm_deadline(const std::shared_ptr<RunState>& state, std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) return;
  state->deadline.expires_after(timeout);
  state->deadline.async_wait([weak = std::weak_ptr<RunState>(state)](boost::system::error_code ec) {
    auto state = weak.lock();
    if (ec || !state || state->reaped) return;
    state->outcome.timed_out = true;
    state->terminate();
  });
}

void close_all(RunState& state) {
  // A read already completed but not yet delivered must not reach a sink
  // whose owner has moved on once run_process returns.
  state.sink = nullptr;
  boost::system::error_code ignored;
  state.deadline.cancel();
  state.kill_timer.cancel();
  state.drain_timer.cancel();
  state.in.close(ignored);
  state.out.close(ignored);
  state.err.close(ignored);
  state.pidfd.close(ignored);
}

}  // namespace

std::string_view keep_within_cap(std::string& kept, bool& truncated, std::string_view chunk, std::size_t cap,
                                 bool keep_tail) {
  if (keep_tail) {
    kept.append(chunk);
    if (kept.size() > cap) {
      kept.erase(0, kept.size() - cap);
      truncated = true;
    }
    return chunk;
  }
  std::size_t room = cap > kept.size() ? cap - kept.size() : 0;
  if (chunk.size() > room) {
    truncated = true;
    chunk = chunk.substr(0, room);
  }
  kept.append(chunk);
  return chunk;
}

ProcessSpec shell_spec(std::string command) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", std::move(command)};
  return spec;
}

awaitable<Result<ProcessOutcome>> run_process(ProcessSpec spec, ChunkSink sink, CancelToken cancel) {
  auto child = spawn_child(spec);
  if (!child) co_return child.error();
  auto ex = co_await asio::this_coro::executor;
  auto state = std::make_shared<RunState>(ex, *child, std::move(sink), spec);

  asio::co_spawn(ex, pump(state, Stream::Stdout), log_failure("a child's stdout reader"));
  asio::co_spawn(ex, pump(state, Stream::Stderr), log_failure("a child's stderr reader"));
  asio::co_spawn(ex, await_exit(state), log_failure("a child's exit watcher"));
  arm_deadline(state, spec.timeout);

  CancelState::Registration on_cancel;
  if (cancel) {
    on_cancel = cancel->on_cancel([weak = std::weak_ptr<RunState>(state)] {
      auto state = weak.lock();
      if (!state || state->reaped) return;
      state->outcome.cancelled = true;
      state->terminate();
    });
  }

  Status gate;
  if (spec.before_stdin) {
    auto gate_wait = spec.before_stdin(child->pid);
    gate = co_await std::move(gate_wait);
    if (!gate && !state->reaped) ::kill(-state->pid, SIGKILL);
  }
  std::string input = gate ? std::move(spec.stdin_data) : std::string();
  asio::co_spawn(ex, feed_stdin(state, std::move(input)), log_failure("a child's stdin writer"));

  while (!state->finished()) {
    state->wake.expires_at(asio::steady_timer::time_point::max());
    co_await state->wake.async_wait(kNoThrow);
  }
  close_all(*state);
  if (!gate) co_return gate.error();
  co_return std::move(state->outcome);
}

}  // namespace steward::exec
