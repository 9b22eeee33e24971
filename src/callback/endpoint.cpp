#include "callback/endpoint.hpp"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>

#include "callback/registry.hpp"
#include "callback/tunnel.hpp"
#include "core/listen_address.hpp"
#include "core/signal.hpp"
#include "core/spawn.hpp"
#include "transport/ssh/connection.hpp"
#include "transport/ssh/host_key.hpp"

namespace steward::callback {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using asio::ip::tcp;
using transport::ssh::Connection;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

namespace {

// `ssh -R 0:...` asks the server to pick; nothing really listens, so any
// number names the forward. This one is what the VM's ssh is told.
constexpr int kPickedForwardPort = 22;
constexpr std::chrono::seconds kOpenChannelTimeout{10};
constexpr std::chrono::seconds kSeenInterval{30};

// What libssh's callbacks of one accepted connection work with; lives as
// long as the session (a Connection attachment).
struct Login {
  Registry* registry = nullptr;
  std::string address;  // the VM's HOST:PORT
  std::string name;     // set once a registered key proved itself
  bool forwarding = false;
  std::string bind_address;
  int bind_port = 0;
  ssh_server_callbacks_struct server_callbacks{};

  std::string who() const {
    return name.empty() ? "callback from " + address : "callback " + name + " (" + address + ")";
  }
};

const char* channel_type_name(int type) {
  switch (type) {
    case SSH_CHANNEL_SESSION:
      return "session (shell, exec, sftp)";
    case SSH_CHANNEL_DIRECT_TCPIP:
      return "direct-tcpip";
    case SSH_CHANNEL_FORWARDED_TCPIP:
      return "forwarded-tcpip";
    case SSH_CHANNEL_X11:
      return "x11";
    case SSH_CHANNEL_AUTH_AGENT:
      return "auth-agent";
    default:
      return "unknown";
  }
}

int on_public_key(ssh_session, const char* user, ssh_key key, char signature_state, void* data) {
  auto& login = *static_cast<Login*>(data);
  const std::string fingerprint = transport::ssh::fingerprint(key);
  auto registration = login.registry->find_by_fingerprint(fingerprint);
  if (!registration) {
    spdlog::warn("{}: key {} (user '{}') is not a registered callback key: refused", login.who(), fingerprint,
                 user ? user : "");
    return SSH_AUTH_DENIED;
  }
  if (registration->sshd_port != 0) {
    spdlog::warn("{}: key {} is registered for {} calling back to the controller's sshd (--sshd), not here: refused",
                 login.who(), fingerprint, registration->name);
    return SSH_AUTH_DENIED;
  }
  if (signature_state == SSH_PUBLICKEY_STATE_NONE) return SSH_AUTH_SUCCESS;  // "would this key do?"
  if (signature_state != SSH_PUBLICKEY_STATE_VALID) {
    spdlog::warn("{}: key {} came with a wrong signature: refused", login.who(), fingerprint);
    return SSH_AUTH_DENIED;
  }
  login.name = registration->name;
  return SSH_AUTH_SUCCESS;
}

// 0: answered here; 1: libssh's default answer (a refusal).
int on_message(ssh_session, ssh_message message, void* data) {
  auto& login = *static_cast<Login*>(data);
  switch (ssh_message_type(message)) {
    case SSH_REQUEST_GLOBAL:
      if (ssh_message_subtype(message) == SSH_GLOBAL_REQUEST_TCPIP_FORWARD && !login.name.empty()) {
        const char* address = ssh_message_global_request_address(message);
        const int port = ssh_message_global_request_port(message);
        login.bind_address = address ? address : "";
        login.bind_port = port > 0 ? port : kPickedForwardPort;
        ssh_message_global_request_reply_success(message, static_cast<uint16_t>(login.bind_port));
        login.forwarding = true;
        return 0;
      }
      spdlog::warn("{}: refused a global request{}: only tcpip-forward, after logging in, is accepted", login.who(),
                   ssh_message_subtype(message) == SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD ? " (cancel-tcpip-forward)"
                                                                                          : "");
      return 1;
    case SSH_REQUEST_CHANNEL_OPEN:
      spdlog::warn("{}: refused a {} channel: a callback session only carries the VM's forwarded sshd", login.who(),
                   channel_type_name(ssh_message_subtype(message)));
      return 1;
    case SSH_REQUEST_CHANNEL:
      spdlog::warn("{}: refused a channel request", login.who());
      return 1;
    default:
      return 1;  // other login methods, the service request: libssh's defaults
  }
}

std::string peer_text(const tcp::socket& socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "(unknown)";
  const auto address = endpoint.address();
  return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
         std::to_string(endpoint.port());
}

std::string utc_time(double unix_seconds) {
  const std::time_t seconds = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return text;
}

}  // namespace

class CallbackEndpoint::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor executor, Registry& registry, EndpointOptions options)
      : executor_(executor), registry_(registry), options_(options), acceptor_(executor) {}
  ~Impl() {
    if (bind_) ssh_bind_free(bind_);
  }

  Result<int> listen(const std::string& address);
  awaitable<Result<int>> dial(std::string name);
  void shutdown();

 private:
  struct Live {
    std::shared_ptr<Connection> connection;
    std::string address;
    std::string bind_address;
    int bind_port = 0;
  };

  awaitable<void> accept_loop();
  awaitable<void> serve(tcp::socket socket);
  awaitable<std::shared_ptr<Connection>> log_in(tcp::socket socket, std::shared_ptr<Login> login);
  void go_live(const std::string& name, Live live);
  void cut(const std::string& name);
  Error not_called_back(const std::string& name) const;

  asio::any_io_executor executor_;
  Registry& registry_;
  EndpointOptions options_;
  tcp::acceptor acceptor_;
  ssh_bind bind_ = nullptr;
  std::map<std::string, Live> live_;
  Signal arrived_;  // a callback went live
  std::size_t logging_in_ = 0;
  bool stopped_ = false;
};

Result<int> CallbackEndpoint::Impl::listen(const std::string& address) {
  auto endpoint = parse_listen_address(address);
  if (!endpoint) return make_error(ErrorCode::InvalidArgument, "--callback: " + endpoint.error().message);
  bind_ = ssh_bind_new();
  if (!bind_) return make_error(ErrorCode::Internal, "cannot allocate the callback endpoint");
  bool process_config = false;
  ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_PROCESS_CONFIG, &process_config);
  if (ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_HOSTKEY, registry_.keys().endpoint_host_key_file.c_str()) != SSH_OK)
    return make_error(ErrorCode::Internal, std::string("callback endpoint host key: ") + ssh_get_error(bind_));
  boost::system::error_code ec;
  acceptor_.open(endpoint->protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(ErrorCode::Unavailable, "cannot listen on " + address + " (--callback): " + ec.message());
  std::weak_ptr<Impl> weak = shared_from_this();
  registry_.on_removed([weak](const std::string& name) {
    if (auto self = weak.lock()) self->cut(name);
  });
  auto self = shared_from_this();
  asio::co_spawn(executor_, [self]() { return self->accept_loop(); }, log_failure("the callback endpoint"));
  return acceptor_.local_endpoint().port();
}

awaitable<void> CallbackEndpoint::Impl::accept_loop() {
  auto self = shared_from_this();
  while (!stopped_) {
    auto [error, socket] = co_await acceptor_.async_accept(kNoThrow);
    if (stopped_ || error == asio::error::operation_aborted) break;
    if (error) {
      spdlog::warn("callback endpoint: accept failed: {}", error.message());
      asio::steady_timer pause(executor_, std::chrono::milliseconds(100));  // e.g. out of descriptors
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    if (logging_in_ >= options_.max_unauthenticated) {
      spdlog::warn("callback from {}: closed at once, {} connections are logging in already", peer_text(socket),
                   logging_in_);
      continue;
    }
    asio::co_spawn(executor_, [self, socket = std::move(socket)]() mutable { return self->serve(std::move(socket)); },
                   log_failure("a callback session"));
  }
}

namespace {

// Waits for the socket as libssh needs it; looks first, as the waits are
// edge-triggered (see transport/ssh/connection.cpp).
awaitable<bool> wait_socket(asio::posix::stream_descriptor& socket, ssh_session session,
                            Clock::time_point deadline) {
  const bool writing = ssh_get_poll_flags(session) & SSH_WRITE_PENDING;
  pollfd polled{socket.native_handle(), static_cast<short>(writing ? POLLOUT : POLLIN), 0};
  if (::poll(&polled, 1, 0) > 0) co_return true;
  asio::steady_timer timer(socket.get_executor(), deadline);
  const auto type = writing ? asio::posix::stream_descriptor::wait_write : asio::posix::stream_descriptor::wait_read;
  auto waited = co_await (socket.async_wait(type, kNoThrow) || timer.async_wait(kNoThrow));
  co_return waited.index() == 0;
}

}  // namespace

// The key exchange, then the login and the forward request (answered by the
// callbacks while the connection's pump runs): the connection once the VM
// asked for its forward, null when it did not in time.
awaitable<std::shared_ptr<Connection>> CallbackEndpoint::Impl::log_in(tcp::socket socket,
                                                                     std::shared_ptr<Login> login) {
  const auto deadline = Clock::now() + options_.login_timeout;
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const int fd = socket.release();
  // libssh closes its own descriptor; the loop watches a duplicate.
  const int watched = ::dup(fd);
  ssh_session session = ssh_new();
  if (watched < 0 || !session || ssh_bind_accept_fd(bind_, session, fd) != SSH_OK) {
    spdlog::warn("{}: cannot start a session: {}", login->who(), ssh_get_error(bind_));
    // Once libssh holds the descriptor, freeing the session closes it.
    const bool owned = session && ssh_get_fd(session) == fd;
    if (session) ssh_free(session);
    if (!owned) ::close(fd);
    if (watched >= 0) ::close(watched);
    co_return nullptr;
  }
  ssh_set_blocking(session, 0);
  ssh_set_auth_methods(session, SSH_AUTH_METHOD_PUBLICKEY);
  login->server_callbacks.userdata = login.get();
  login->server_callbacks.auth_pubkey_function = on_public_key;
  ssh_callbacks_init(&login->server_callbacks);
  ssh_set_server_callbacks(session, &login->server_callbacks);
  ssh_set_message_callback(session, on_message, login.get());

  asio::posix::stream_descriptor watcher(executor_, watched);
  for (;;) {
    const int rc = ssh_handle_key_exchange(session);
    if (rc == SSH_OK) break;
    bool ready = false;
    if (rc != SSH_ERROR) ready = co_await wait_socket(watcher, session, deadline);
    if (!ready) {
      spdlog::info("{}: key exchange {}", login->who(),
                   rc == SSH_ERROR ? std::string("failed: ") + ssh_get_error(session) : std::string("timed out"));
      watcher.close(ignored);
      ssh_free(session);
      co_return nullptr;
    }
  }
  transport::ssh::Endpoint described;
  described.target = "callback from " + login->address;
  auto connection =
      Connection::adopt(executor_, described, session, watcher.release(), login, options_.keepalive);
  while (connection->alive() && !login->forwarding && Clock::now() < deadline && !stopped_)
    co_await connection->wait_progress(deadline);
  if (login->forwarding && connection->alive()) co_return connection;
  if (connection->alive())
    spdlog::warn("{}: no login with a registered key and forward request within {} s: closed", login->who(),
                 std::chrono::duration_cast<std::chrono::seconds>(options_.login_timeout).count());
  connection->close();
  co_return nullptr;
}

awaitable<void> CallbackEndpoint::Impl::serve(tcp::socket socket) {
  auto login = std::make_shared<Login>();
  login->registry = &registry_;
  login->address = peer_text(socket);
  ++logging_in_;
  auto connection = co_await log_in(std::move(socket), login);
  --logging_in_;
  if (!connection) co_return;
  const std::string name = login->name;
  if (!registry_.find(name) || stopped_) {  // removed while it logged in
    connection->close();
    co_return;
  }
  go_live(name, Live{connection, login->address, login->bind_address, login->bind_port});
  while (connection->alive()) {
    co_await connection->wait_progress(Clock::now() + kSeenInterval);
    auto live = live_.find(name);
    if (live == live_.end() || live->second.connection != connection) break;  // replaced or removed
    registry_.note_seen(name);
  }
  connection->close();
  auto live = live_.find(name);
  if (live != live_.end() && live->second.connection == connection) {
    live_.erase(live);
    registry_.note_disconnected(name);
    spdlog::info("callback {} from {} ended: {}", name, login->address,
                 connection->broken_reason().empty() ? "closed" : connection->broken_reason());
  }
}

void CallbackEndpoint::Impl::go_live(const std::string& name, Live live) {
  if (auto previous = live_.find(name); previous != live_.end()) {
    spdlog::info("callback {}: a new callback from {} replaces the one from {}", name, live.address,
                 previous->second.address);
    previous->second.connection->close();
  }
  spdlog::info("callback {} connected from {} (forward {}:{})", name, live.address, live.bind_address,
               live.bind_port);
  registry_.note_connected(name, live.address);
  live_[name] = std::move(live);
  arrived_.notify_all();
}

void CallbackEndpoint::Impl::cut(const std::string& name) {
  auto live = live_.find(name);
  if (live == live_.end()) return;
  spdlog::info("callback {} removed: its session from {} is closed", name, live->second.address);
  live->second.connection->close();
  live_.erase(live);
  arrived_.notify_all();
}

Error CallbackEndpoint::Impl::not_called_back(const std::string& name) const {
  const auto waited = std::chrono::duration_cast<std::chrono::seconds>(options_.wait).count();
  auto registration = registry_.find(name);
  if (registration && registration->last_seen > 0)
    return make_error(ErrorCode::Unreachable, fmt::format("{} has not called back since {} (waited {} s)", name,
                                                          utc_time(registration->last_seen), waited));
  return make_error(ErrorCode::Unreachable, fmt::format("{} never called back (waited {} s)", name, waited));
}

awaitable<Result<int>> CallbackEndpoint::Impl::dial(std::string name) {
  auto self = shared_from_this();
  if (!registry_.find(name))
    co_return make_error(ErrorCode::Unreachable,
                         name + " is not a registered callback target (steward callback add " + name + ")");
  const auto deadline = Clock::now() + options_.wait;
  for (;;) {
    auto found = live_.find(name);
    if (found != live_.end() && found->second.connection->alive()) break;
    if (stopped_ || Clock::now() >= deadline) co_return not_called_back(name);
    co_await arrived_.wait_until(deadline);
    if (!registry_.find(name)) co_return make_error(ErrorCode::Unreachable, name + ": its callback was removed");
  }
  const Live live = live_.at(name);
  ssh_channel channel = ssh_channel_new(live.connection->session());
  if (!channel) co_return make_error(ErrorCode::Internal, name + ": cannot allocate a channel");
  const auto open_deadline = Clock::now() + kOpenChannelTimeout;
  const std::function<int()> open_channel = [&] {
    return ssh_channel_open_reverse_forward(channel, live.bind_address.c_str(), live.bind_port, "127.0.0.1", 22);
  };
  const int opened = co_await live.connection->drive(open_channel, SSH_AGAIN, open_deadline);
  if (opened != SSH_OK) {
    const std::string why = !live.connection->alive() ? live.connection->broken_reason()
                            : opened == SSH_AGAIN     ? std::string("timed out")
                                                      : std::string(ssh_get_error(live.connection->session()));
    live.connection->free_channel(channel);
    co_return make_error(ErrorCode::Unreachable,
                         name + ": the callback session opened no channel to its sshd (is sshd running on the VM?): " +
                             why);
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    live.connection->free_channel(channel);
    co_return make_error(ErrorCode::Internal, std::string("socketpair: ") + std::strerror(errno));
  }
  start_tunnel(executor_, live.connection, channel, pair[0]);
  co_return pair[1];
}

void CallbackEndpoint::Impl::shutdown() {
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [name, live] : live_) live.connection->close();
  live_.clear();
  arrived_.notify_all();
}

CallbackEndpoint::CallbackEndpoint(asio::any_io_executor executor, Registry& registry, EndpointOptions options)
    : impl_(std::make_shared<Impl>(executor, registry, options)) {}

CallbackEndpoint::~CallbackEndpoint() { impl_->shutdown(); }

Result<int> CallbackEndpoint::listen(const std::string& address) { return impl_->listen(address); }

awaitable<Result<int>> CallbackEndpoint::dial(std::string name) {
  auto dialing = impl_->dial(std::move(name));
  co_return co_await std::move(dialing);
}

void CallbackEndpoint::shutdown() { impl_->shutdown(); }

}  // namespace steward::callback
