#pragma once
// Wakes every coroutine waiting on it; waiters re-check their condition.
// Loop-thread only.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <list>

namespace steward {

class Signal {
 public:
  // True when notified, false when the deadline passed first.
  boost::asio::awaitable<bool> wait_until(boost::asio::steady_timer::time_point deadline) {
    auto executor = co_await boost::asio::this_coro::executor;  // not in the call: GCC 12, PR 99576
    boost::asio::steady_timer timer(executor, deadline);
    auto it = waiters_.insert(waiters_.end(), &timer);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    waiters_.erase(it);
    co_return ec == boost::asio::error::operation_aborted;
  }

  void notify_all() {
    for (auto* timer : waiters_) timer->cancel();
  }

 private:
  std::list<boost::asio::steady_timer*> waiters_;
};

}  // namespace steward
