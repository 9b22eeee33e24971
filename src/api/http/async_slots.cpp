#include "api/http/async_slots.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace steward::api::http {

boost::asio::awaitable<AsyncSlots::Slot> AsyncSlots::acquire() {
  if (free_ > 0 && waiters_.empty()) {
    --free_;
    co_return Slot(this);
  }
  auto executor = co_await boost::asio::this_coro::executor;
  // A waiter sleeps on a timer that never expires; release() cancels it,
  // which hands over the slot (free_ is not given back in between).
  auto wake = std::make_shared<boost::asio::steady_timer>(executor, boost::asio::steady_timer::time_point::max());
  waiters_.push_back(wake);
  (void)co_await wake->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (auto still = std::find(waiters_.begin(), waiters_.end(), wake); still != waiters_.end()) {
    // Woken by a cancellation of this wait, not by release(): no slot.
    waiters_.erase(still);
    throw boost::system::system_error(boost::asio::error::operation_aborted);
  }
  co_return Slot(this);
}

void AsyncSlots::release() {
  if (waiters_.empty()) {
    ++free_;
    return;
  }
  auto next = std::move(waiters_.front());
  waiters_.pop_front();
  next->cancel();
}

}  // namespace steward::api::http
