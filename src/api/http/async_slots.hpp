#pragma once
// A counting semaphore for coroutines on one event loop: at most N holders
// at once, the others wait in line (first come, first served) holding nothing
// but their place. Loop-thread only.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <deque>
#include <memory>

namespace steward::api::http {

class AsyncSlots {
 public:
  explicit AsyncSlots(std::size_t slots) : free_(slots) {}
  AsyncSlots(const AsyncSlots&) = delete;
  AsyncSlots& operator=(const AsyncSlots&) = delete;

  // A held slot; given back when destroyed.
  class Slot {
   public:
    explicit Slot(AsyncSlots* owner) : owner_(owner) {}
    Slot(Slot&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (owner_) owner_->release();
    }

   private:
    AsyncSlots* owner_;
  };

  // Completes once a slot is this caller's.
  boost::asio::awaitable<Slot> acquire();

  std::size_t free() const { return free_; }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  // Hands the slot to the first waiter, if any.
  void release();

  std::size_t free_;
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace steward::api::http
