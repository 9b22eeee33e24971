#pragma once
// The coroutines a server runs for as long as it serves (pruning; later the
// lease renewal): each is spawned with a cancellation slot, so stop() ends
// them all with one call instead of leaving them parked on the loop.
// Loop-thread only.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <list>
#include <string>

#include "core/signal.hpp"

namespace steward {

class BackgroundTasks {
 public:
  explicit BackgroundTasks(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

  // Runs `task` on the executor; an exception it ends with is logged naming
  // `what`, except the operation_aborted that cancel_all() causes.
  void spawn(std::string what, boost::asio::awaitable<void> task);

  // Terminal cancellation of every task: the wait each is in ends (Asio
  // timers, Clock timers) or, if it is in none, its next co_await throws
  // operation_aborted. Resumes when all have ended.
  boost::asio::awaitable<void> cancel_all();

  std::size_t running() const { return running_; }

 private:
  struct Task {
    boost::asio::cancellation_signal signal;
    bool ended = false;
  };
  boost::asio::any_io_executor executor_;
  // An ended task's entry goes at the next spawn(), not from its own completion
  // handler: the coroutine's cancellation state is still bound to the signal then.
  std::list<Task> tasks_;
  std::size_t running_ = 0;
  Signal ended_;
};

}  // namespace steward
