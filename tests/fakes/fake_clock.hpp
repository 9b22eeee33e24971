#pragma once
#include "core/clock.hpp"

namespace steward::testing {

class FakeClock final : public Clock {
 public:
  SteadyTime now() const override { return now_; }
  void advance(std::chrono::nanoseconds by) { now_ += by; }

 private:
  SteadyTime now_{};
};

}  // namespace steward::testing
