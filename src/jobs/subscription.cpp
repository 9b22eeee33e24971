#include "jobs/subscription.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace steward::jobs {
namespace {

std::size_t event_size(const JobEvent& event) {
  return event.chunk.data.size() + event.run.result.stdout_data.size() + event.run.result.stderr_data.size() + 64;
}

}  // namespace

boost::asio::awaitable<std::optional<JobEvent>> Subscription::next() {
  while (events_.empty() && !ended_) {
    wake_.expires_at(boost::asio::steady_timer::time_point::max());
    co_await wake_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  if (events_.empty()) co_return std::nullopt;
  JobEvent event = std::move(events_.front());
  events_.pop_front();
  buffered_bytes_ -= std::min(buffered_bytes_, event_size(event));
  co_return event;
}

boost::asio::awaitable<bool> Subscription::wait_ready(std::chrono::steady_clock::duration wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (events_.empty() && !ended_) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    wake_.expires_at(deadline);
    co_await wake_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  co_return true;
}

void Subscription::push(JobEvent event) {
  if (ended_) return;
  if (event.kind == JobEvent::Kind::Output && !with_output_) return;
  buffered_bytes_ += event_size(event);
  if (buffered_bytes_ > kMaxBufferedBytes) {
    events_.clear();
    dropped_ = true;
    ended_ = true;
  } else {
    ended_ = event.kind == JobEvent::Kind::Done;
    events_.push_back(std::move(event));
  }
  wake_.cancel();
}

void Subscription::prepend(std::deque<JobEvent> history) {
  for (const auto& event : history) buffered_bytes_ += event_size(event);
  for (auto& event : events_) history.push_back(std::move(event));
  events_ = std::move(history);
  ended_ = ended_ || (!events_.empty() && events_.back().kind == JobEvent::Kind::Done);
  wake_.cancel();
}

}  // namespace steward::jobs
