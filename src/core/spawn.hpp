#pragma once
// The completion handler every co_spawn in steward uses instead of
// asio::detached: an exception that escapes a spawned coroutine is logged,
// naming what the coroutine was doing, and counted, never lost silently.
#include <cstdint>
#include <exception>
#include <string>
#include <utility>

namespace steward {

// Spawned coroutines that ended with an exception since the process started.
std::uint64_t spawn_failures();
// Logs `failure` as "WHAT ended with an exception: ..." and counts it.
void report_spawn_failure(const std::string& what, std::exception_ptr failure);

class LogFailure {
 public:
  explicit LogFailure(std::string what) : what_(std::move(what)) {}
  // Also accepts the coroutine's value (awaitable<T>), which is dropped.
  template <typename... Values>
  void operator()(std::exception_ptr failure, Values&&...) const {
    if (failure) report_spawn_failure(what_, failure);
  }

 private:
  std::string what_;
};

// co_spawn(executor, work(), log_failure("the condition runner of ID"))
inline LogFailure log_failure(std::string what) { return LogFailure(std::move(what)); }

}  // namespace steward
