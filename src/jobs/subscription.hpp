#pragma once
// A reader's view of one job's events (output chunks, per-target results,
// the end), buffered so a slow reader never slows the job. A reader that
// falls more than kMaxBufferedBytes behind is dropped.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <string>

#include "core/model.hpp"
#include "store/store.hpp"

namespace steward::jobs {

struct JobEvent {
  enum class Kind { Output, Result, Done };
  Kind kind = Kind::Output;
  std::string target;
  store::OutputChunk chunk;  // Output
  TargetRun run;             // Result
  Job job;                   // Done
};

class Subscription {
 public:
  static constexpr std::size_t kMaxBufferedBytes = 16u << 20;

  Subscription(boost::asio::any_io_executor executor, bool with_output)
      : wake_(executor), with_output_(with_output) {}

  bool wants_output() const { return with_output_; }

  // The next event, or nullopt once the stream has ended.
  boost::asio::awaitable<std::optional<JobEvent>> next();
  // Waits at most `wait` for an event or the end (then next() returns at
  // once); false if neither came, so a reader can check on its client.
  boost::asio::awaitable<bool> wait_ready(std::chrono::steady_clock::duration wait);

  void push(JobEvent event);
  // Puts replayed history before everything pushed so far.
  void prepend(std::deque<JobEvent> history);
  bool dropped() const { return dropped_; }

 private:
  boost::asio::steady_timer wake_;
  std::deque<JobEvent> events_;
  std::size_t buffered_bytes_ = 0;
  bool with_output_;
  bool ended_ = false;
  bool dropped_ = false;
};

}  // namespace steward::jobs
