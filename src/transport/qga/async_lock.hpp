#pragma once
// A first-come-first-served lock for coroutines on one event loop: qemu-ga
// answers requests strictly in order and has no request ids, so a socket
// may carry only one request/response at a time. Waiters sleep on a timer
// and are handed the lock directly, so no one can barge in between.
// Loop-thread only.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>
#include <deque>

namespace steward::transport::qga {

class AsyncLock {
 public:
  class Guard {
   public:
    explicit Guard(AsyncLock* lock) : lock_(lock) {}
    Guard(Guard&& other) noexcept : lock_(std::exchange(other.lock_, nullptr)) {}
    Guard& operator=(Guard&&) = delete;
    ~Guard() {
      if (lock_) lock_->unlock();
    }

   private:
    AsyncLock* lock_;
  };

  boost::asio::awaitable<Guard> acquire() {
    if (!locked_) {
      locked_ = true;
      co_return Guard(this);
    }
    auto executor = co_await boost::asio::this_coro::executor;
    Waiter waiter{boost::asio::steady_timer(executor, boost::asio::steady_timer::time_point::max())};
    waiters_.push_back(&waiter);
    // A frame destroyed while waiting (the loop torn down) must neither stay
    // queued nor keep a lock it was handed but never used.
    struct Leave {
      AsyncLock& lock;
      Waiter& waiter;
      bool taken = false;
      ~Leave() {
        if (!waiter.granted) {
          std::erase(lock.waiters_, &waiter);
        } else if (!taken) {
          lock.unlock();
        }
      }
    } leave{*this, waiter};
    while (!waiter.granted) co_await waiter.timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    leave.taken = true;
    co_return Guard(this);
  }

  bool locked() const { return locked_; }

 private:
  struct Waiter {
    boost::asio::steady_timer timer;
    bool granted = false;
  };

  void unlock() {
    if (waiters_.empty()) {
      locked_ = false;
      return;
    }
    Waiter* next = waiters_.front();
    waiters_.pop_front();
    next->granted = true;  // stays locked: ownership passes to `next`
    next->timer.cancel();
  }

  bool locked_ = false;
  std::deque<Waiter*> waiters_;
};

}  // namespace steward::transport::qga
