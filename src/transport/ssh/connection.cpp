#include "transport/ssh/connection.hpp"

#include <libssh/server.h>  // ssh_send_keepalive, usable by clients too
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "transport/ssh/host_key.hpp"
#include "core/spawn.hpp"
#include "core/tcp_connect.hpp"

namespace steward::transport::ssh {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::string Endpoint::pool_key() const {
  // Secrets take part only as a hash, so one target reached with two
  // different accounts gets two connections.
  auto secret = std::hash<std::string>{}(key_material + '\0' + password);
  if (!callback.empty()) return fmt::format("{}@callback:{}|{}|{:x}", user, callback, key_file, secret);
  return fmt::format("{}@{}:{}|{}|{:x}", user, host, port, key_file, secret);
}

std::string Endpoint::where() const {
  if (!callback.empty()) return fmt::format("{} (callback {})", target, callback);
  return fmt::format("{} ({}:{})", target, host, port);
}

Connection::Connection(asio::any_io_executor executor, Endpoint endpoint)
    : executor_(executor), endpoint_(std::move(endpoint)), socket_(executor), keepalive_timer_(executor) {}

Connection::~Connection() {
  close();
  if (event_) {
    ssh_event_remove_session(event_, session_);
    ssh_event_free(event_);
  }
  if (session_) ssh_free(session_);
}

Error Connection::unreachable(const std::string& what) const {
  return make_error(ErrorCode::Unreachable, endpoint_.where() + ": " + what);
}

awaitable<Result<std::shared_ptr<Connection>>> Connection::open(Endpoint endpoint, ConnectOptions options) {
  auto executor = co_await asio::this_coro::executor;
  std::shared_ptr<Connection> connection(new Connection(executor, std::move(endpoint)));
  if (auto shaken = co_await connection->handshake(options); !shaken) co_return shaken.error();
  if (auto authenticated = co_await connection->authenticate(); !authenticated) co_return authenticated.error();

  connection->start(options.keepalive_interval);
  co_return connection;
}

std::shared_ptr<Connection> Connection::adopt(asio::any_io_executor executor, Endpoint endpoint, ssh_session session,
                                              int watched, std::shared_ptr<void> attachment,
                                              std::chrono::milliseconds keepalive_interval) {
  std::shared_ptr<Connection> connection(new Connection(executor, std::move(endpoint)));
  connection->session_ = session;
  connection->socket_.assign(watched);
  connection->attachment_ = std::move(attachment);
  connection->start(keepalive_interval);
  return connection;
}

void Connection::start(std::chrono::milliseconds keepalive_interval) {
  event_ = ssh_event_new();
  ssh_event_add_session(event_, session_);
  auto self = shared_from_this();
  asio::co_spawn(executor_, [self]() { return self->pump(); }, log_failure("an ssh connection's pump"));
  asio::co_spawn(
      executor_, [self, keepalive_interval]() { return self->keep_alive(keepalive_interval); },
      log_failure("an ssh connection's keepalive"));
}

// A callback target's socket comes from its callback session; the dial
// waits for the target to call back and its errors name the target already.
awaitable<Result<int>> Connection::open_socket(const ConnectOptions& options, Clock::time_point deadline) {
  if (!endpoint_.callback.empty()) {
    if (!options.dial_callback)
      co_return unreachable("a callback target, and this server runs no callback endpoint (--callback)");
    auto dialing = options.dial_callback(endpoint_.callback);
    co_return co_await std::move(dialing);
  }
  auto tcp = co_await connect_tcp(endpoint_.host, endpoint_.port, deadline);
  if (!tcp) {
    if (tcp.error().message == "connect timed out") {
      co_return unreachable(fmt::format("connect timed out after {:g} s", options.connect_timeout.count() / 1000.0));
    }
    co_return unreachable(tcp.error().message);
  }
  co_return static_cast<int>(tcp->release());
}

awaitable<Status> Connection::handshake(const ConnectOptions& options) {
  auto opened = co_await open_socket(options, Clock::now() + options.connect_timeout);
  if (!opened) co_return opened.error();
  // A callback target may have waited to call back: the handshake's time starts now.
  auto deadline = Clock::now() + options.connect_timeout;
  socket_t fd = *opened;
  // The loop watches a duplicate that only this object closes. libssh closes
  // its own descriptor when the peer goes away; the number is then free for
  // the next connection, and if the loop watched that number, dropping this
  // dead connection later would stop the loop watching the live one.
  int watched = ::dup(fd);
  if (watched < 0) {
    ::close(fd);
    co_return make_error(ErrorCode::Internal, "cannot duplicate the SSH socket: " + std::string(std::strerror(errno)));
  }
  socket_.assign(watched);

  session_ = ssh_new();
  if (!session_) {
    ::close(fd);
    co_return make_error(ErrorCode::Internal, "cannot allocate an SSH session");
  }
  bool process_config = false;
  ssh_options_set(session_, SSH_OPTIONS_PROCESS_CONFIG, &process_config);
  ssh_options_set(session_, SSH_OPTIONS_FD, &fd);
  ssh_options_set(session_, SSH_OPTIONS_HOST, endpoint_.host.c_str());
  ssh_options_set(session_, SSH_OPTIONS_PORT, &endpoint_.port);
  if (!endpoint_.user.empty()) ssh_options_set(session_, SSH_OPTIONS_USER, endpoint_.user.c_str());
  if (!endpoint_.callback_host_keys) {
    ssh_options_set(session_, SSH_OPTIONS_KNOWNHOSTS, options.known_hosts.c_str());
    ssh_options_set(session_, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, options.user_known_hosts.c_str());
  } else {
    // Only the keys pinned at registration or recorded at a first callback.
    ssh_options_set(session_, SSH_OPTIONS_KNOWNHOSTS, options.callback_known_hosts.c_str());
    ssh_options_set(session_, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, options.callback_known_hosts.c_str());
  }
  ssh_set_blocking(session_, 0);

  for (;;) {
    int rc = ssh_connect(session_);
    if (rc == SSH_OK) break;
    if (rc == SSH_ERROR) co_return unreachable(std::string("SSH handshake failed: ") + ssh_get_error(session_));
    if (!co_await wait_socket(deadline)) co_return unreachable("SSH handshake timed out");
  }
  co_return verify_host_key(session_, endpoint_);
}

awaitable<Status> Connection::authenticate() {
  auto deadline = Clock::now() + std::chrono::seconds(30);
  std::vector<std::string> tried;
  auto attempt = [&](const std::function<int()>& call, const char* method) -> awaitable<Result<bool>> {
    int rc = co_await drive(call, SSH_AUTH_AGAIN, deadline);
    if (rc == SSH_AUTH_SUCCESS) co_return true;
    if (rc == SSH_AUTH_AGAIN) co_return unreachable("authentication timed out");
    if (rc == SSH_AUTH_ERROR) co_return unreachable(std::string("authentication error: ") + ssh_get_error(session_));
    tried.push_back(method);
    co_return false;
  };

  if (!endpoint_.key_file.empty() || !endpoint_.key_material.empty()) {
    auto key = load_private_key(endpoint_);
    if (!key) co_return unreachable(key.error().message);
    auto accepted = co_await attempt([&] { return ssh_userauth_publickey(session_, nullptr, key->get()); }, "publickey");
    if (!accepted || *accepted) co_return accepted ? Status{} : Status(accepted.error());
  }
  if (!endpoint_.password.empty()) {
    auto accepted = co_await attempt(
        [&] { return ssh_userauth_password(session_, nullptr, endpoint_.password.c_str()); }, "password");
    if (!accepted || *accepted) co_return accepted ? Status{} : Status(accepted.error());
  }
  if (tried.empty()) {
    // Nothing configured: the agent and the default identities, as ssh does.
    auto accepted = co_await attempt([&] { return ssh_userauth_publickey_auto(session_, nullptr, nullptr); },
                                     "ssh-agent and default keys");
    if (!accepted || *accepted) co_return accepted ? Status{} : Status(accepted.error());
  }
  std::string methods;
  for (const auto& method : tried) methods += (methods.empty() ? "" : ", ") + method;
  co_return unreachable(fmt::format("authentication failed for user {} (tried {})",
                                    endpoint_.user.empty() ? "(default)" : endpoint_.user, methods));
}

asio::posix::stream_descriptor::wait_type Connection::wanted() const {
  return (ssh_get_poll_flags(session_) & SSH_WRITE_PENDING) ? asio::posix::stream_descriptor::wait_write
                                                            : asio::posix::stream_descriptor::wait_read;
}

// Asio watches descriptors edge-triggered, so a wait that starts while bytes
// are already queued sees no new edge and can sleep for good: libssh reads at
// most one buffer per poll, and libssh calls outside the pump read too. Under
// load, that left a reply unread and a deploy hanging. So look first.
bool Connection::ready_now(asio::posix::stream_descriptor::wait_type type) {
  pollfd polled{socket_.native_handle(), static_cast<short>(type == asio::posix::stream_descriptor::wait_write
                                                                ? POLLOUT : POLLIN), 0};
  return ::poll(&polled, 1, 0) > 0;
}

awaitable<bool> Connection::wait_socket(Clock::time_point deadline) {
  auto type = wanted();
  if (ready_now(type)) co_return true;
  asio::steady_timer timer(executor_, deadline);
  auto waited = co_await (socket_.async_wait(type, kNoThrow) || timer.async_wait(kNoThrow));
  co_return waited.index() == 0;
}

awaitable<int> Connection::drive(std::function<int()> call, int again, Clock::time_point deadline) {
  for (;;) {
    int rc = call();
    if (rc != again || !alive() || Clock::now() >= deadline) co_return rc;
    if (event_) {
      wake();  // the pump may now need to wait for writability
      co_await progress_.wait_until(deadline);
    } else if (!co_await wait_socket(deadline)) {
      co_return again;
    }
  }
}

awaitable<void> Connection::wait_progress(Clock::time_point deadline) {
  if (alive()) co_await progress_.wait_until(deadline);
}

void Connection::wake() {
  progress_.notify_all();
  if (socket_.is_open()) socket_.cancel();
}

awaitable<void> Connection::pump() {
  while (alive()) {
    auto type = wanted();
    if (ready_now(type)) {
      co_await asio::post(executor_, asio::use_awaitable);  // let the readers run between polls
      if (!alive()) break;
    } else {
      auto [error] = co_await socket_.async_wait(type, kNoThrow);
      if (!alive()) break;
      if (error == asio::error::operation_aborted) continue;  // woken to re-check what to wait for
      if (error) {
        mark_broken(error.message());
        break;
      }
    }
    if (ssh_event_dopoll(event_, 0) == SSH_ERROR || !ssh_is_connected(session_)) {
      mark_broken(ssh_get_error(session_));
      break;
    }
    progress_.notify_all();
  }
  progress_.notify_all();
}

awaitable<void> Connection::keep_alive(std::chrono::milliseconds interval) {
  while (alive()) {
    keepalive_timer_.expires_after(interval);
    auto [error] = co_await keepalive_timer_.async_wait(kNoThrow);
    if (error || !alive()) break;
    if (ssh_send_keepalive(session_) == SSH_ERROR) {
      mark_broken(ssh_get_error(session_));
      break;
    }
    wake();
  }
}

void Connection::mark_broken(std::string reason) {
  if (broken_) return;
  broken_ = true;
  broken_reason_ = reason.empty() ? "connection lost" : std::move(reason);
  spdlog::info("ssh {}: connection lost: {}", endpoint_.target, broken_reason_);
  progress_.notify_all();
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  keepalive_timer_.cancel();
  // libssh closes its own descriptor; this one is the loop's duplicate.
  boost::system::error_code ignored;
  socket_.close(ignored);
  if (session_ && !broken_) {
    ssh_disconnect(session_);
    disconnected_ = true;
  }
  progress_.notify_all();
}

void Connection::free_channel(ssh_channel channel) const {
  if (channel && !disconnected_) ssh_channel_free(channel);
}

}  // namespace steward::transport::ssh
