#pragma once
// Cancellation that travels down a call chain (job -> transport -> process).
// Used on the server's event loop only: not thread-safe by design.
#include <functional>
#include <list>
#include <memory>
#include <string>

namespace steward {

// Always owned by a shared_ptr (make_cancel_token), so registrations can
// outlive it safely.
class CancelState : public std::enable_shared_from_this<CancelState> {
 public:
  using Callback = std::function<void()>;
  using Handle = std::list<Callback>::iterator;

  bool cancelled() const { return cancelled_; }
  const std::string& reason() const { return reason_; }

  // Runs every registered callback once; later calls only keep the first reason.
  void cancel(std::string reason);

  // Registers a callback run on cancel (at once if already cancelled).
  // Keep the returned Registration alive for as long as the callback is valid.
  class Registration;
  Registration on_cancel(Callback callback);

 private:
  bool cancelled_ = false;
  std::string reason_;
  std::list<Callback> callbacks_;
  friend class Registration;
};

class CancelState::Registration {
 public:
  Registration() = default;
  Registration(std::weak_ptr<CancelState> owner, Handle handle) : owner_(std::move(owner)), handle_(handle) {}
  Registration(Registration&& other) noexcept { *this = std::move(other); }
  Registration& operator=(Registration&& other) noexcept;
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() { reset(); }
  void reset();

 private:
  std::weak_ptr<CancelState> owner_;
  Handle handle_{};
  bool active_ = false;
  friend class CancelState;
};

using CancelToken = std::shared_ptr<CancelState>;

inline CancelToken make_cancel_token() { return std::make_shared<CancelState>(); }

}  // namespace steward
