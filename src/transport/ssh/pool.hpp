#pragma once
// Open connections per target, reused across jobs. A connection carries up
// to kChannelsPerConnection commands at once (sshd's MaxSessions is 10 by
// default; one channel stays free for the kill that ends a timed-out
// command). One connection per target is opened at a time: callers that
// find every connection full while one is opening wait for it (and share its
// failure), so N concurrent commands open ceil(N / 9) connections, not N.
// Broken connections are dropped and replaced on the next acquire; idle ones
// are closed after the idle timeout.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/ssh/connection.hpp"

namespace steward::transport::ssh {

constexpr int kChannelsPerConnection = 9;

class Pool;

// One channel's claim on a connection; gives it back on destruction.
class Lease {
 public:
  Lease(std::shared_ptr<Connection> connection, bool reused);
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  Connection& connection() const { return *connection_; }
  bool reused() const { return reused_; }

 private:
  std::shared_ptr<Connection> connection_;
  bool reused_;
};

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  Pool(ConnectOptions options, std::chrono::milliseconds idle_timeout)
      : options_(std::move(options)), idle_timeout_(idle_timeout) {}

  // A live connection with a free channel; opens one when none has room.
  boost::asio::awaitable<Result<Lease>> acquire(const Endpoint& endpoint);
  // Drops a connection that failed under a request, so no one else gets it.
  void discard(Connection& connection);
  void close_all();
  std::size_t open_connections() const;
  std::size_t pooled_endpoints() const;  // endpoints with at least one open connection

 private:
  // A connection being opened; `opened` is cancelled (waking the waiters) when it is done.
  struct Opening {
    explicit Opening(const boost::asio::any_io_executor& executor)
        : opened(executor, boost::asio::steady_timer::time_point::max()) {}
    boost::asio::steady_timer opened;
    std::optional<Error> failure;
  };

  boost::asio::awaitable<void> reap_idle();

  ConnectOptions options_;
  std::chrono::milliseconds idle_timeout_;
  std::map<std::string, std::vector<std::shared_ptr<Connection>>> connections_;
  std::map<std::string, std::shared_ptr<Opening>> opening_;  // by pool key
  bool reaper_running_ = false;
  boost::asio::steady_timer* reaper_timer_ = nullptr;  // while the reaper waits
  bool closed_ = false;
};

}  // namespace steward::transport::ssh
