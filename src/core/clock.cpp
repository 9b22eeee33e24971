#include "core/clock.hpp"

namespace steward {

double unix_now() {
  using namespace std::chrono;
  auto us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  return static_cast<double>(us) / 1e6;
}

}  // namespace steward
