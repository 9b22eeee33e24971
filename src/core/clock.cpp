#include "core/clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/timer.hpp"

namespace steward {
namespace {

namespace asio = boost::asio;

class SystemTimer final : public Timer {
 public:
  asio::awaitable<bool> wait_until(SteadyTime deadline) override {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, deadline);
    // Cleared however the wait ends, also when the loop destroys the waiting coroutine.
    struct Waiting {
      asio::steady_timer*& slot;
      ~Waiting() { slot = nullptr; }
    } waiting{waiting_ = &timer};
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !ec;
  }

  void cancel() override {
    if (waiting_) waiting_->cancel();
  }

 private:
  asio::steady_timer* waiting_ = nullptr;
};

}  // namespace

std::unique_ptr<Timer> SystemClock::make_timer() const { return std::make_unique<SystemTimer>(); }

asio::awaitable<bool> sleep_for(const Clock& clock, std::chrono::nanoseconds duration) {
  auto timer = clock.make_timer();
  const SteadyTime deadline = clock.now() + duration;
  bool came = co_await timer->wait_until(deadline);
  co_return came;
}

double unix_now() {
  using namespace std::chrono;
  auto us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  return static_cast<double>(us) / 1e6;
}

}  // namespace steward
