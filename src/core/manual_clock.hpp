#pragma once
// A Clock that moves only when told to (tests): lease expiry, grids and
// periodic tasks are checked by advancing it instead of sleeping.
// Loop-thread only, like the coroutines that wait on it.
#include <functional>
#include <map>

#include "core/clock.hpp"

namespace steward {

class ManualClock final : public Clock {
 public:
  SteadyTime now() const override { return now_; }
  std::unique_ptr<Timer> make_timer() const override;

  // Moves time forward by `by`, waking the waits that fall due in deadline
  // order (equal deadlines in the order they began). Time stops at each
  // deadline on the way and `run_ready` (typically the io_context's poll) runs
  // the woken coroutines there, so a wait they start that falls due by the end
  // is woken too. Without `run_ready`, the woken coroutines run when the caller
  // next runs the loop, and all of them see the final time.
  void advance(std::chrono::nanoseconds by, const std::function<void()>& run_ready = {});

  // Waits in progress (a test checks a coroutine reached its wait).
  std::size_t waiting() const { return waiters_.size(); }

 private:
  class ManualTimer;
  struct Waiter {
    std::function<void()> wake;  // ends the wait with "the time came"
  };
  using Waiters = std::multimap<SteadyTime, Waiter*>;

  Waiters::iterator add(SteadyTime deadline, Waiter& waiter) const { return waiters_.emplace(deadline, &waiter); }
  void remove(Waiters::iterator it) const { waiters_.erase(it); }

  SteadyTime now_{};
  // Timers register through a const Clock&, like every Clock user holds it.
  mutable Waiters waiters_;
};

}  // namespace steward
