#pragma once
// A wait on a Clock's time (Clock::make_timer), in place of an Asio
// steady_timer, so a ManualClock decides when it fires. Loop-thread only: one
// wait at a time per timer, and the timer must outlive its wait.
#include <boost/asio/awaitable.hpp>

#include <chrono>

#include "core/clock.hpp"

namespace steward {

class Timer {
 public:
  virtual ~Timer() = default;

  // Resumes when the clock reaches `deadline` (true; at once if it already
  // has), or when cancel() or the coroutine's cancellation slot ends the wait
  // first (false). SteadyTime::max() waits for cancel() only.
  virtual boost::asio::awaitable<bool> wait_until(SteadyTime deadline) = 0;

  // Ends the wait in progress, if any, with false; later waits are unaffected.
  virtual void cancel() = 0;
};

// A new timer waiting until now() + `duration` on `clock` (see Timer::wait_until).
boost::asio::awaitable<bool> sleep_for(const Clock& clock, std::chrono::nanoseconds duration);

}  // namespace steward
