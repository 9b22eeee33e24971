#include "core/loop_watchdog.hpp"

#include <spdlog/spdlog.h>

namespace steward {
namespace {

std::mutex activity_mutex;
std::string activity;  // a diagnostic label, like the logger: one per process

}  // namespace

void note_loop_activity(std::string label) {
  std::lock_guard lock(activity_mutex);
  activity = std::move(label);
}

std::string current_loop_activity() {
  std::lock_guard lock(activity_mutex);
  return activity.empty() ? "none" : activity;
}

StallDetector::StallDetector(std::chrono::milliseconds tick, std::chrono::milliseconds threshold,
                             std::chrono::milliseconds quiet)
    : tick_(tick), threshold_(threshold), quiet_(quiet) {}

void StallDetector::beat(Clock::time_point now) { last_beat_.store(now.time_since_epoch().count()); }

std::optional<StallDetector::Stall> StallDetector::check(Clock::time_point now) {
  const Clock::rep beat = last_beat_.load();
  const auto due = Clock::time_point(Clock::duration(beat)) + tick_;
  const auto held = std::chrono::duration_cast<std::chrono::milliseconds>(now - due);
  if (held <= threshold_ || beat == judged_beat_) return std::nullopt;
  judged_beat_ = beat;
  ++stalls_;
  if (last_report_ && now - *last_report_ < quiet_) {
    ++unreported_;
    return std::nullopt;
  }
  last_report_ = now;
  return Stall{held, std::exchange(unreported_, 0)};
}

LoopWatchdog::LoopWatchdog(boost::asio::any_io_executor loop, Options options)
    : options_(options), detector_(options.tick, options.threshold, options.quiet), timer_(loop) {}

LoopWatchdog::~LoopWatchdog() { stop(); }

void LoopWatchdog::start() {
  detector_.beat(StallDetector::Clock::now());
  schedule_beat();
  thread_ = std::thread([this] { watch(); });
}

void LoopWatchdog::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LoopWatchdog::schedule_beat() {
  timer_.expires_after(options_.tick);
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    detector_.beat(StallDetector::Clock::now());
    schedule_beat();
  });
}

void LoopWatchdog::watch() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, options_.tick / 2, [this] { return stopping_; })) {
    auto stall = detector_.check(StallDetector::Clock::now());
    if (!stall) continue;
    spdlog::warn("event loop held for over {} ms (last HTTP route started: {}){}", stall->held.count(),
                 current_loop_activity(),
                 stall->unreported ? fmt::format("; {} more stalls since the last report", stall->unreported) : "");
  }
}

}  // namespace steward
