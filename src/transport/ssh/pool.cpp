#include "transport/ssh/pool.hpp"
#include "core/spawn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace steward::transport::ssh {

namespace asio = boost::asio;
using asio::awaitable;

Lease::Lease(std::shared_ptr<Connection> connection, bool reused)
    : connection_(std::move(connection)), reused_(reused) {
  ++connection_->channels_in_use;
}

Lease::~Lease() {
  if (!connection_) return;
  --connection_->channels_in_use;
  connection_->last_used = std::chrono::steady_clock::now();
}

awaitable<Result<Lease>> Pool::acquire(const Endpoint& endpoint) {
  if (closed_) co_return make_error(ErrorCode::Unavailable, "the server is shutting down");
  if (!reaper_running_) {
    reaper_running_ = true;
    // Its own statement: GCC 12 destroys temporaries of a full-expression
    // that holds a co_await twice (PR 99576), here the lambda's shared_ptr.
    auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, [self = shared_from_this()] { return self->reap_idle(); },
                   log_failure("the ssh pool's idle reaper"));
  }
  const std::string key = endpoint.pool_key();
  for (;;) {
    auto& open = connections_[key];
    std::erase_if(open, [](const auto& connection) { return !connection->alive(); });
    for (auto& connection : open) {
      if (connection->channels_in_use < kChannelsPerConnection) co_return Lease(connection, true);
    }
    if (auto pending = opening_.find(key); pending != opening_.end()) {
      auto opening = pending->second;
      co_await opening->opened.async_wait(asio::as_tuple(asio::use_awaitable));
      if (opening->failure) co_return *opening->failure;
      if (closed_) co_return make_error(ErrorCode::Unavailable, "the server is shutting down");
      continue;  // its first channel is taken; look for room again
    }
    auto executor = co_await asio::this_coro::executor;
    auto opening = std::make_shared<Opening>(executor);
    opening_[key] = opening;
    auto opened = co_await Connection::open(endpoint, options_);
    opening_.erase(key);
    if (!opened) opening->failure = opened.error();
    opening->opened.cancel();
    if (!opened) co_return opened.error();
    if (closed_) {
      (*opened)->close();
      co_return make_error(ErrorCode::Unavailable, "the server is shutting down");
    }
    connections_[key].push_back(*opened);  // `open` may be stale after the co_await
    co_return Lease(*opened, false);
  }
}

void Pool::discard(Connection& connection) {
  connection.close();
  auto& open = connections_[connection.endpoint().pool_key()];
  std::erase_if(open, [&](const auto& held) { return held.get() == &connection; });
}

std::size_t Pool::pooled_endpoints() const {
  return static_cast<std::size_t>(
      std::count_if(connections_.begin(), connections_.end(), [](const auto& entry) { return !entry.second.empty(); }));
}

std::size_t Pool::open_connections() const {
  std::size_t count = 0;
  for (const auto& [key, open] : connections_) count += open.size();
  return count;
}

void Pool::close_all() {
  closed_ = true;
  for (auto& [key, open] : connections_)
    for (auto& connection : open) connection->close();
  connections_.clear();
  if (reaper_timer_) reaper_timer_->cancel();
}

awaitable<void> Pool::reap_idle() {
  auto executor = co_await asio::this_coro::executor;  // not in the call: GCC 12, PR 99576
  asio::steady_timer timer(executor);
  reaper_timer_ = &timer;
  const auto period = std::max(std::chrono::milliseconds(200), idle_timeout_ / 4);
  while (!closed_) {
    timer.expires_after(period);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    const auto now = std::chrono::steady_clock::now();
    for (auto it = connections_.begin(); it != connections_.end();) {
      std::erase_if(it->second, [&](const auto& connection) {
        bool idle = connection->channels_in_use == 0 && now - connection->last_used >= idle_timeout_;
        if (idle || !connection->alive()) {
          connection->close();
          return true;
        }
        return false;
      });
      it = it->second.empty() ? connections_.erase(it) : std::next(it);
    }
  }
  reaper_timer_ = nullptr;
}

}  // namespace steward::transport::ssh
