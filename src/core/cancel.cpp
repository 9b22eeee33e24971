#include "core/cancel.hpp"

namespace steward {

void CancelState::cancel(std::string reason) {
  if (cancelled_) return;
  cancelled_ = true;
  reason_ = std::move(reason);
  // A callback may deregister itself or others; run a snapshot.
  auto pending = callbacks_;
  for (auto& callback : pending) callback();
}

CancelState::Registration CancelState::on_cancel(Callback callback) {
  if (cancelled_) {
    callback();
    return Registration{};
  }
  callbacks_.push_back(std::move(callback));
  Registration registration(weak_from_this(), std::prev(callbacks_.end()));
  registration.active_ = true;
  return registration;
}

CancelState::Registration& CancelState::Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = std::move(other.owner_);
    handle_ = other.handle_;
    active_ = other.active_;
    other.active_ = false;
  }
  return *this;
}

void CancelState::Registration::reset() {
  if (!active_) return;
  active_ = false;
  if (auto owner = owner_.lock()) owner->callbacks_.erase(handle_);
}

}  // namespace steward
