#pragma once
// One authenticated SSH connection to one target, driven non-blocking from
// the event loop: libssh never blocks a thread, the loop waits on its socket.
// After the handshake a pump coroutine reads the socket and runs libssh's
// packet handling; every piece of progress wakes the coroutines waiting on
// this connection (they retry their non-blocking call or re-check state).
#include <libssh/libssh.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "core/signal.hpp"

namespace steward::transport::ssh {

enum class HostKeyPolicy { Strict, AcceptNew, Off };

// Where and how to connect. Secrets live here only, never in messages.
struct Endpoint {
  std::string target;  // inventory name, for messages
  std::string host;
  int port = 22;
  std::string user;
  std::string key_file;
  std::string key_material;  // a private key in OpenSSH/PEM text
  std::string password;
  HostKeyPolicy host_key_policy = HostKeyPolicy::AcceptNew;
  // A callback target (issue 14): reached through its callback session, not
  // host:port; its host key is checked in ConnectOptions::callback_known_hosts.
  std::string callback;
  // Its host key is checked in ConnectOptions::callback_known_hosts: a
  // callback target, or one reached through the controller's sshd
  // (steward_callback_sshd, issue 14's literal variant).
  bool callback_host_keys = false;

  // Connections are shared by requests with the same pool key.
  std::string pool_key() const;
  // "target (host:port)", how every message names the target.
  std::string where() const;
};

struct ConnectOptions {
  std::string known_hosts;       // steward's own, written on accept-new
  std::string user_known_hosts;  // read-only
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds keepalive_interval{15000};
  // Callback targets: a connected stream socket to the target's sshd (the
  // caller owns it), or Unreachable; unset when the server has no endpoint.
  std::function<boost::asio::awaitable<Result<int>>(const std::string& name)> dial_callback;
  std::string callback_known_hosts;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Unreachable (refused, timeout, DNS, handshake, host key, authentication)
  // with a message naming the target.
  static boost::asio::awaitable<Result<std::shared_ptr<Connection>>> open(Endpoint endpoint,
                                                                          ConnectOptions options);
  // A session whose handshake was made elsewhere (the callback endpoint's
  // server side): `watched` is the loop's duplicate of its socket, `attachment`
  // lives as long as the session (what its libssh callbacks point to).
  static std::shared_ptr<Connection> adopt(boost::asio::any_io_executor executor, Endpoint endpoint,
                                           ssh_session session, int watched, std::shared_ptr<void> attachment,
                                           std::chrono::milliseconds keepalive_interval);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  ssh_session session() const { return session_; }
  const Endpoint& endpoint() const { return endpoint_; }
  bool alive() const { return !broken_ && !closed_; }
  // ssh_disconnect() (in close()) frees every channel of the session, so a
  // channel is freed here only while that has not happened; otherwise its
  // pointer is already gone.
  void free_channel(ssh_channel channel) const;
  const std::string& broken_reason() const { return broken_reason_; }

  // Retries `call` (a non-blocking libssh call) until it returns something
  // other than `again`, or the connection breaks, or `deadline` passes (then
  // `again` is returned).
  boost::asio::awaitable<int> drive(std::function<int()> call, int again,
                                    std::chrono::steady_clock::time_point deadline);
  // Waits until something happened on the connection, or the deadline.
  boost::asio::awaitable<void> wait_progress(std::chrono::steady_clock::time_point deadline);
  // Wakes every waiter (used by cancel and timers) and the pump (after writes).
  void wake();

  // Sends a disconnect and stops the pump; idempotent.
  void close();

  // Bookkeeping for the pool.
  int channels_in_use = 0;
  std::chrono::steady_clock::time_point last_used = std::chrono::steady_clock::now();

 private:
  Connection(boost::asio::any_io_executor executor, Endpoint endpoint);
  void start(std::chrono::milliseconds keepalive_interval);
  boost::asio::awaitable<Result<int>> open_socket(const ConnectOptions& options,
                                                  std::chrono::steady_clock::time_point deadline);
  boost::asio::awaitable<Status> handshake(const ConnectOptions& options);
  boost::asio::awaitable<Status> authenticate();
  // Waits for the socket as libssh needs it during the handshake.
  boost::asio::awaitable<bool> wait_socket(std::chrono::steady_clock::time_point deadline);
  boost::asio::posix::stream_descriptor::wait_type wanted() const;
  bool ready_now(boost::asio::posix::stream_descriptor::wait_type type);
  boost::asio::awaitable<void> pump();
  boost::asio::awaitable<void> keep_alive(std::chrono::milliseconds interval);
  void mark_broken(std::string reason);
  Error unreachable(const std::string& what) const;

  boost::asio::any_io_executor executor_;
  Endpoint endpoint_;
  ssh_session session_ = nullptr;
  bool disconnected_ = false;  // ssh_disconnect() ran: the session's channels are freed
  ssh_event event_ = nullptr;
  boost::asio::posix::stream_descriptor socket_;
  boost::asio::steady_timer keepalive_timer_;
  Signal progress_;
  bool broken_ = false;
  bool closed_ = false;
  std::string broken_reason_;
  std::shared_ptr<void> attachment_;  // destroyed after the session is freed
};

}  // namespace steward::transport::ssh
