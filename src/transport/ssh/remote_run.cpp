#include "transport/ssh/remote_run.hpp"

#include <fmt/format.h>
#include <libssh/callbacks.h>
#include <string.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

#include <csignal>

#include "transport/ssh/remote_command.hpp"
#include "transport/supervision.hpp"

namespace steward::transport::ssh {

namespace asio = boost::asio;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kOpenTimeout = std::chrono::seconds(30);
constexpr auto kKillGrace = std::chrono::milliseconds(2000);
// After the kill, how long the channel gets to report the end.
constexpr auto kCloseAfterKill = std::chrono::seconds(5);

int signal_number(const char* name) {
  for (int number = 1; number < NSIG; ++number) {
    const char* abbrev = sigabbrev_np(number);
    if (abbrev && name && std::strcmp(abbrev, name) == 0) return number;
  }
  return SIGKILL;  // an unknown name still means "ended by a signal"
}

// What libssh's callbacks report, read by the coroutine that waits on it.
struct ChannelState {
  ssh_channel_callbacks_struct callbacks{};
  Connection* connection = nullptr;
  ChunkSink sink;
  std::size_t cap = 0;
  bool keep_tail = false;
  MarkerReader marker;
  ExecOutcome outcome;
  bool eof = false;
  bool closed = false;
  bool exit_known = false;

  bool finished() const { return closed || (exit_known && eof); }

  void append(Stream stream, std::string_view bytes) {
    auto& kept = stream == Stream::Stdout ? outcome.stdout_data : outcome.stderr_data;
    auto& truncated = stream == Stream::Stdout ? outcome.stdout_truncated : outcome.stderr_truncated;
    auto delivered = exec::keep_within_cap(kept, truncated, bytes, cap, keep_tail);
    if (sink && !delivered.empty()) sink(stream, delivered);
  }
};

int on_data(ssh_session, ssh_channel, void* data, uint32_t length, int is_stderr, void* userdata) {
  auto* state = static_cast<ChannelState*>(userdata);
  std::string_view bytes(static_cast<const char*>(data), length);
  if (is_stderr) {
    state->append(Stream::Stderr, bytes);
  } else if (auto own = state->marker.feed(bytes); !own.empty()) {
    state->append(Stream::Stdout, own);
  }
  return static_cast<int>(length);
}

void on_eof(ssh_session, ssh_channel, void* userdata) { static_cast<ChannelState*>(userdata)->eof = true; }
void on_close(ssh_session, ssh_channel, void* userdata) { static_cast<ChannelState*>(userdata)->closed = true; }

void on_exit_status(ssh_session, ssh_channel, int status, void* userdata) {
  auto* state = static_cast<ChannelState*>(userdata);
  state->outcome.exit_code = status;
  state->exit_known = true;
}

void on_exit_signal(ssh_session, ssh_channel, const char* name, int, const char*, const char*, void* userdata) {
  auto* state = static_cast<ChannelState*>(userdata);
  state->outcome.signal = signal_number(name);
  state->outcome.exit_code = -1;
  state->exit_known = true;
}

struct ChannelFree {
  const Connection* connection;
  void operator()(ssh_channel channel) const { connection->free_channel(channel); }
};

Error lost(Connection& connection, const std::string& doing) {
  std::string reason = connection.alive() ? ssh_get_error(connection.session()) : connection.broken_reason();
  return make_error(ErrorCode::Unreachable, fmt::format("{}: {}: {}", connection.endpoint().where(), doing,
                                                        reason.empty() ? "closed" : reason));
}

awaitable<Status> write_stdin(Connection& connection, ssh_channel channel, std::string_view data,
                              Clock::time_point deadline) {
  while (!data.empty()) {
    int written = ssh_channel_write(channel, data.data(), static_cast<uint32_t>(data.size()));
    if (written == SSH_ERROR) co_return lost(connection, "cannot send input");
    data.remove_prefix(static_cast<std::size_t>(written));
    connection.wake();
    if (!data.empty()) co_await connection.wait_progress(deadline);
    if (Clock::now() >= deadline) break;
  }
  ssh_channel_send_eof(channel);
  connection.wake();
  co_return Status{};
}

awaitable<void> end_remote_group(Connection& connection, long pgid) {
  ExecRequest kill;
  kill.timeout = kKillGrace + std::chrono::seconds(3);
  co_await run_remote(connection, kill_group_command(pgid, kKillGrace), kill, nullptr, nullptr);
}

// A supervised command's wrapper prints its marker, then waits: the journal
// records its process group first. True when the command may go ahead;
// an error when the journal could not record it (the group is ended).
awaitable<Result<bool>> record_start(Connection& connection, ChannelState& state, transport::CommandJournal& journal,
                                     const std::string& status_path, const CancelToken& cancel,
                                     Clock::time_point deadline) {
  while (!state.marker.seen() && !state.finished()) {
    if (!connection.alive()) co_return lost(connection, "connection lost before the command started");
    if ((cancel && cancel->cancelled()) || Clock::now() >= deadline) co_return false;
    co_await connection.wait_progress(deadline);
  }
  if (!state.marker.pgid()) co_return false;
  RunProcess process;
  process.pgid = *state.marker.pgid();
  process.start_time = state.marker.start_time();
  process.status_path = status_path;
  auto starting = journal.started(std::move(process));
  auto recorded = co_await std::move(starting);
  if (!recorded) {
    co_await end_remote_group(connection, *state.marker.pgid());
    co_return recorded.error();
  }
  co_return true;
}

}  // namespace

awaitable<RemoteRun> run_remote(Connection& connection, const std::string& script, const ExecRequest& request,
                                ChunkSink sink, CancelToken cancel, const std::string& status_path) {
  std::unique_ptr<ssh_channel_struct, ChannelFree> channel(ssh_channel_new(connection.session()),
                                                          ChannelFree{&connection});
  if (!channel) co_return RemoteRun{lost(connection, "cannot open a channel"), false};
  ChannelState state;
  state.connection = &connection;
  state.sink = std::move(sink);
  state.cap = request.output_cap;
  state.keep_tail = request.keep_tail;
  ssh_callbacks_init(&state.callbacks);
  state.callbacks.userdata = &state;
  state.callbacks.channel_data_function = on_data;
  state.callbacks.channel_eof_function = on_eof;
  state.callbacks.channel_close_function = on_close;
  state.callbacks.channel_exit_status_function = on_exit_status;
  state.callbacks.channel_exit_signal_function = on_exit_signal;
  ssh_set_channel_callbacks(channel.get(), &state.callbacks);
  // The callbacks point into this frame: detach them whichever way we leave.
  struct Detach {
    ssh_channel channel;
    ssh_channel_callbacks callbacks;
    ~Detach() { ssh_remove_channel_callbacks(channel, callbacks); }
  } detach{channel.get(), &state.callbacks};

  auto open_deadline = Clock::now() + kOpenTimeout;
  int rc = co_await connection.drive([&] { return ssh_channel_open_session(channel.get()); }, SSH_AGAIN,
                                     open_deadline);
  if (rc != SSH_OK) co_return RemoteRun{lost(connection, "cannot open a channel"), false};
  rc = co_await connection.drive([&] { return ssh_channel_request_exec(channel.get(), script.c_str()); },
                                 SSH_AGAIN, open_deadline);
  if (rc != SSH_OK) co_return RemoteRun{lost(connection, "cannot start the command"), false};

  const auto deadline = request.timeout.count() > 0 ? Clock::now() + request.timeout : Clock::time_point::max();
  CancelState::Registration on_cancel;
  if (cancel) on_cancel = cancel->on_cancel([&connection] { connection.wake(); });

  std::string input = request.stdin_data;
  if (request.journal) {
    auto go = co_await record_start(connection, state, *request.journal, status_path, cancel, deadline);
    if (!go) {
      ssh_channel_close(channel.get());
      connection.wake();
      co_return RemoteRun{go.error(), true};
    }
    // Without the go-ahead the wrapper runs nothing (a cancel or timeout came first, or cd failed).
    if (*go) input = std::string(kGoAhead) + input;
  }
  if (auto sent = co_await write_stdin(connection, channel.get(), input, deadline); !sent) {
    co_return RemoteRun{sent.error(), true};
  }

  bool killing = false;
  auto give_up_at = Clock::time_point::max();
  while (!state.finished()) {
    if (!connection.alive()) co_return RemoteRun{lost(connection, "connection lost while the command ran"), true};
    const bool cancelled = cancel && cancel->cancelled();
    const bool timed_out = Clock::now() >= deadline;
    if ((cancelled || timed_out) && !killing) {
      killing = true;
      state.outcome.cancelled = cancelled;
      state.outcome.timed_out = !cancelled;
      if (auto pgid = state.marker.pgid()) co_await end_remote_group(connection, *pgid);
      give_up_at = Clock::now() + kCloseAfterKill;
      continue;
    }
    if (Clock::now() >= give_up_at) break;
    co_await connection.wait_progress(killing ? give_up_at : deadline);
  }
  ssh_channel_close(channel.get());
  connection.wake();
  co_return RemoteRun{std::move(state.outcome), true};
}

}  // namespace steward::transport::ssh
