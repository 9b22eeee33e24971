#pragma once
// Time comes through a Clock so the scheduler's timing is testable without sleeps.
#include <chrono>
#include <cstdint>

namespace steward {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
};

// Seconds since the Unix epoch with microseconds, the form job timestamps take.
double unix_now();

}  // namespace steward
