#include "core/manual_clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/timer.hpp"

namespace steward {

namespace asio = boost::asio;

// A wait parks on a steady_timer that never expires by itself: advance()
// cancels it when the clock reaches the deadline, cancel() or the
// coroutine's cancellation slot when the wait is given up.
class ManualClock::ManualTimer final : public Timer {
 public:
  explicit ManualTimer(const ManualClock& clock) : clock_(clock) {}

  asio::awaitable<bool> wait_until(SteadyTime deadline) override {
    if (deadline <= clock_.now()) co_return true;
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer parked(executor, asio::steady_timer::time_point::max());
    Waiter waiter{[&parked, &came = came_] {
      came = true;
      parked.cancel();
    }};
    came_ = false;
    // Unregisters however the wait ends, also when the loop destroys the
    // waiting coroutine; advance() has already unregistered a wait it woke.
    struct Registration {
      const ManualClock& clock;
      Waiters::iterator it;
      bool& came;
      asio::steady_timer*& slot;
      ~Registration() {
        if (!came) clock.remove(it);
        slot = nullptr;
      }
    } registration{clock_, clock_.add(deadline, waiter), came_, waiting_ = &parked};
    co_await parked.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return came_;
  }

  void cancel() override {
    if (waiting_) waiting_->cancel();
  }

 private:
  const ManualClock& clock_;
  asio::steady_timer* waiting_ = nullptr;
  bool came_ = false;
};

std::unique_ptr<Timer> ManualClock::make_timer() const { return std::make_unique<ManualTimer>(*this); }

void ManualClock::advance(std::chrono::nanoseconds by, const std::function<void()>& run_ready) {
  const SteadyTime end = now_ + by;
  while (!waiters_.empty() && waiters_.begin()->first <= end) {
    auto due = waiters_.begin();
    now_ = std::max(now_, due->first);
    Waiter* waiter = due->second;
    waiters_.erase(due);
    waiter->wake();
    if (run_ready) run_ready();
  }
  now_ = end;
}

}  // namespace steward
