#pragma once
// Condition timing: the k-th run of a repeating item is due at
// start + k * interval, however long runs take, so values never drift.
// Pure arithmetic; the caller sleeps until the time it gets.
#include <chrono>
#include <cstdint>

#include "core/clock.hpp"

namespace steward::sched {

class TimeGrid {
 public:
  TimeGrid(SteadyTime start, std::chrono::nanoseconds interval) : start_(start), interval_(interval) {}

  // The due time of the next slot. A slot that is already a whole interval
  // late is skipped (and counted in `skipped`) instead of being run in a burst.
  SteadyTime next(SteadyTime now, std::uint64_t& skipped) {
    SteadyTime due = start_ + interval_ * slot_;
    if (now >= due + interval_) {
      std::int64_t behind = (now - due) / interval_;
      skipped += static_cast<std::uint64_t>(behind);
      slot_ += behind;
      due = start_ + interval_ * slot_;
    }
    ++slot_;
    return due;
  }

 private:
  SteadyTime start_;
  std::chrono::nanoseconds interval_;
  std::int64_t slot_ = 0;
};

}  // namespace steward::sched
