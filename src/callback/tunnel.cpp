#include "callback/tunnel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <string_view>

#include "core/spawn.hpp"
#include "transport/ssh/connection.hpp"

namespace steward::callback {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using transport::ssh::Connection;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kChunk = 32 * 1024;
// A waiter also looks this often: another channel's read may have taken
// this one's data off the socket without waking anyone.
constexpr std::chrono::milliseconds kRecheck{500};

struct Tunnel {
  Tunnel(asio::any_io_executor executor, std::shared_ptr<Connection> connection, ssh_channel channel, int local)
      : connection(std::move(connection)), channel(channel), local(executor, local) {}
  // Closes the channel when still open; the session outlives it (held here).
  ~Tunnel() { connection->free_channel(channel); }

  // Either direction's end ends both: the other one's wait is cut short.
  void end() {
    boost::system::error_code ignored;
    local.close(ignored);
    if (connection->alive() && ssh_channel_is_open(channel)) ssh_channel_close(channel);
    connection->wake();
  }

  std::shared_ptr<Connection> connection;
  ssh_channel channel;
  asio::posix::stream_descriptor local;
};

// The client session's bytes to the VM's sshd.
awaitable<void> to_vm(std::shared_ptr<Tunnel> tunnel) {
  std::array<char, kChunk> buffer;
  Connection& connection = *tunnel->connection;
  for (bool open = true; open;) {
    auto [error, size] = co_await tunnel->local.async_read_some(asio::buffer(buffer), kNoThrow);
    if (error || !connection.alive()) break;
    std::string_view data(buffer.data(), size);
    while (!data.empty()) {
      const int written = ssh_channel_write(tunnel->channel, data.data(), static_cast<uint32_t>(data.size()));
      if (written == SSH_ERROR || !connection.alive()) {
        open = false;
        break;
      }
      data.remove_prefix(static_cast<std::size_t>(written));
      connection.wake();  // the pump flushes what was queued
      if (!data.empty()) co_await connection.wait_progress(Clock::now() + kRecheck);
    }
  }
  tunnel->end();
}

// The VM's sshd's bytes to the client session.
awaitable<void> from_vm(std::shared_ptr<Tunnel> tunnel) {
  std::array<char, kChunk> buffer;
  Connection& connection = *tunnel->connection;
  while (connection.alive() && tunnel->local.is_open()) {
    const int size = ssh_channel_read_nonblocking(tunnel->channel, buffer.data(), buffer.size(), 0);
    if (size == SSH_ERROR) break;
    if (size > 0) {
      connection.wake();  // this read may have handled packets of other channels too
      auto [error, written] =
          co_await asio::async_write(tunnel->local, asio::buffer(buffer.data(), static_cast<std::size_t>(size)),
                                     kNoThrow);
      if (error) break;
      continue;
    }
    if (ssh_channel_is_eof(tunnel->channel) || ssh_channel_is_closed(tunnel->channel)) break;
    co_await connection.wait_progress(Clock::now() + kRecheck);
  }
  tunnel->end();
}

}  // namespace

void start_tunnel(asio::any_io_executor executor, std::shared_ptr<Connection> connection, ssh_channel channel,
                  int local) {
  auto tunnel = std::make_shared<Tunnel>(executor, std::move(connection), channel, local);
  asio::co_spawn(executor, [tunnel]() { return to_vm(tunnel); }, log_failure("a callback tunnel"));
  asio::co_spawn(executor, [tunnel]() { return from_vm(tunnel); }, log_failure("a callback tunnel"));
}

}  // namespace steward::callback
