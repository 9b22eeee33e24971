#pragma once
// Time comes through a Clock, so timing (the scheduler's queue waits, the
// condition grid, periodic tasks, later lease expiry) is testable without
// sleeps: tests use ManualClock (core/manual_clock.hpp) and move time by hand.
#include <chrono>
#include <cstdint>
#include <memory>

namespace steward {

using SteadyTime = std::chrono::steady_clock::time_point;

class Timer;  // core/timer.hpp

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;
  // A timer running on this clock's time. Its waits resume on the executor of
  // the coroutine that waits.
  virtual std::unique_ptr<Timer> make_timer() const = 0;
};

// The machine's steady clock; its timers are Asio steady_timers.
class SystemClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  std::unique_ptr<Timer> make_timer() const override;
};

// Seconds since the Unix epoch with microseconds, the form job timestamps take.
double unix_now();

}  // namespace steward
