#pragma once
// Runs a coroutine to completion on a private io_context (tests only).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>

namespace steward::testing {

namespace detail {
// Runs `io` until `task` is done; with `stop_io_when_done`, other work left
// waiting goes on at the next run instead of being run to its end.
template <typename T>
T run_task(boost::asio::io_context& io, boost::asio::awaitable<T> task, bool stop_io_when_done) {
  std::optional<T> out;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) out.emplace(std::move(value));
    if (stop_io_when_done) io.stop();
  });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}
}  // namespace detail

// Runs `io` until it runs out of work.
template <typename T>
T run_sync(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  return detail::run_task(io, std::move(task), /*stop_io_when_done=*/false);
}

template <typename T>
T run_sync(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  return run_sync(io, std::move(task));
}

// Runs `io` until `task` is done, not until `io` runs out of work: for loops
// that always hold some (a listener's accept loop).
template <typename T>
T run_until_done(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  return detail::run_task(io, std::move(task), /*stop_io_when_done=*/true);
}

}  // namespace steward::testing
