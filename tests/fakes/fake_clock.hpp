#pragma once
// The clock tests move by hand: core/manual_clock.hpp (kept under this name
// for tests written before timers went through the Clock).
#include "core/manual_clock.hpp"

namespace steward::testing {

using FakeClock = ManualClock;

}  // namespace steward::testing
