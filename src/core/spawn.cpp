#include "core/spawn.hpp"

#include <spdlog/spdlog.h>

#include <atomic>

namespace steward {
namespace {
std::atomic<std::uint64_t> failures{0};
}  // namespace

std::uint64_t spawn_failures() { return failures.load(std::memory_order_relaxed); }

void report_spawn_failure(const std::string& what, std::exception_ptr failure) {
  failures.fetch_add(1, std::memory_order_relaxed);
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    spdlog::error("{} ended with an exception: {}", what, e.what());
  } catch (...) {
    spdlog::error("{} ended with an exception of unknown type", what);
  }
}

}  // namespace steward
