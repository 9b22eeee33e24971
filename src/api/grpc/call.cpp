#include "api/grpc/call.hpp"

#include <boost/asio/post.hpp>

namespace steward::api::grpc {

Call::Call(::grpc::GenericCallbackServerContext* context, boost::asio::any_io_executor loop, std::string caller,
           Start start, std::atomic<int>& live, Finished finished)
    : context_(context),
      loop_(std::move(loop)),
      caller_(std::move(caller)),
      start_(std::move(start)),
      live_(live),
      finished_hook_(std::move(finished)) {
  ++live_;
  StartRead(&request_buffer_);
}

void Call::OnReadDone(bool ok) {
  if (!ok) {
    finish(::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT, "the call carried no request message"));
    return;
  }
  std::vector<::grpc::Slice> slices;
  if (!request_buffer_.Dump(&slices).ok()) {
    finish(::grpc::Status(::grpc::StatusCode::INTERNAL, "cannot read the request message"));
    return;
  }
  for (const auto& slice : slices) request_.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  boost::asio::post(loop_, [this] { start_(*this); });
}

void Call::write(std::string message) {
  std::lock_guard lock(mutex_);
  if (finished_ || finish_after_writes_) return;
  if (queued_.size() >= kMaxQueued) queued_.pop_front();
  queued_.push_back(std::move(message));
  if (!writing_) start_next_write();
}

void Call::start_next_write() {
  ::grpc::Slice slice(queued_.front());
  queued_.pop_front();
  writing_buffer_ = ::grpc::ByteBuffer(&slice, 1);
  writing_ = true;
  StartWrite(&writing_buffer_);
}

void Call::finish(::grpc::Status status) {
  std::lock_guard lock(mutex_);
  if (finished_ || finish_after_writes_) return;
  if (finished_hook_) finished_hook_(*this, status);
  if (writing_) {
    finish_after_writes_ = std::move(status);
    return;
  }
  finished_ = true;
  Finish(std::move(status));
}

void Call::OnWriteDone(bool ok) {
  std::lock_guard lock(mutex_);
  writing_ = false;
  if (!ok) queued_.clear();  // the client is gone; OnCancel tells the loop
  if (!queued_.empty()) {
    start_next_write();
  } else if (finish_after_writes_ && !finished_) {
    finished_ = true;
    Finish(std::move(*finish_after_writes_));
  }
}

void Call::OnCancel() {
  boost::asio::post(loop_, [side = loop_side_] {
    side->cancelled = true;
    if (auto callback = std::move(side->on_cancel)) callback();
  });
}

void Call::on_cancel(std::function<void()> callback) {
  if (loop_side_->cancelled) callback();
  else loop_side_->on_cancel = std::move(callback);
}

void Call::OnDone() {
  --live_;
  delete this;
}

}  // namespace steward::api::grpc
