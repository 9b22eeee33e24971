#include "store/redis/redis_news.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "core/signal.hpp"
#include "store/redis/redis_connection.hpp"

namespace steward::store::redis {

namespace asio = boost::asio;

namespace {

// BLPOP's timeout: below the endpoint's reply timeout, which would otherwise
// drop the connection under a BLPOP that is only waiting. Whole seconds,
// which every Redis takes (fractions need Redis 6), unless the reply timeout
// is under two seconds.
std::string block_for(const Endpoint& endpoint) {
  const auto half = endpoint.reply_timeout / 2;
  if (half < std::chrono::seconds(1)) return std::to_string(static_cast<double>(half.count()) / 1000.0);
  return std::to_string(std::min<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(half).count(), 5));
}

// While Redis is away, how long before the next BLPOP is tried.
constexpr std::chrono::seconds kRetryAfter{1};

}  // namespace

struct NewsListener::State {
  State(asio::any_io_executor executor, Endpoint endpoint, std::string key)
      : executor(executor), endpoint(std::move(endpoint)), key(std::move(key)) {}

  asio::any_io_executor executor;
  Endpoint endpoint;
  std::string key;
  std::optional<RedisConnection> connection;  // opened by the first wait, reset by close
  bool told = false;
  bool closed = false;
  Signal news;
};

namespace {

asio::awaitable<void> listen(std::weak_ptr<NewsListener::State> weak) {
  bool reported = false;
  for (;;) {
    auto state = weak.lock();
    if (!state || state->closed) co_return;
    const auto block = block_for(state->endpoint);
    auto popping = state->connection->command("BLPOP", state->key, block);
    state.reset();  // the listener may be destroyed while this waits
    auto popped = co_await std::move(popping);
    state = weak.lock();
    if (!state || state->closed) co_return;
    if (popped) {
      reported = false;
      if (popped->type == Reply::Type::Array) {
        state->told = true;
        state->news.notify_all();
      }
      continue;
    }
    // Unavailable is the connection's, which the store reports itself.
    if (!reported && popped.error().code != ErrorCode::Unavailable)
      spdlog::warn("store: cannot listen for news (work is read every second instead): {}", popped.error().message);
    reported = true;
    auto executor = state->executor;
    state.reset();
    asio::steady_timer retry(executor, kRetryAfter);
    co_await retry.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace

NewsListener::NewsListener(asio::any_io_executor executor, Endpoint endpoint, std::string key)
    : state_(std::make_shared<State>(std::move(executor), std::move(endpoint), std::move(key))) {}

NewsListener::~NewsListener() {
  state_->closed = true;
  state_->connection.reset();  // the BLPOP in flight completes with Unavailable
  state_->news.notify_all();
}

asio::awaitable<bool> NewsListener::wait(std::chrono::milliseconds at_most) {
  auto state = state_;
  if (!state->connection) {
    state->connection.emplace(state->executor, state->endpoint);
    asio::co_spawn(state->executor, listen(state), asio::detached);
  }
  if (!state->told) {
    auto waiting = state->news.wait_until(asio::steady_timer::clock_type::now() + at_most);
    co_await std::move(waiting);
  }
  const bool told = state->told;
  state->told = false;
  co_return told;
}

}  // namespace steward::store::redis
