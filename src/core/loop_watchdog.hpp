#pragma once
// Notices when something holds the event loop. A timer on the loop beats
// every `tick`; a thread of its own checks the beats and logs, once per stall
// and at most once per `quiet` interval, when a beat is more than `threshold`
// late, naming the HTTP route that started last (note_loop_activity): a
// handler that blocks (a file opened on the loop, a large reply built in one
// piece) stalls health checks, cancels and every other client.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace steward {

// What the loop is doing, for the watchdog's report ("GET /jobs/:jid").
// Set on the loop by the HTTP dispatcher; read by the watchdog's thread.
void note_loop_activity(std::string label);
std::string current_loop_activity();

// The watchdog's judgement, apart from threads and timers so it can be
// tested on made-up times. beat() and check() may run on different threads.
class StallDetector {
 public:
  using Clock = std::chrono::steady_clock;
  struct Stall {
    std::chrono::milliseconds held{0};  // how late the beat is so far
    std::uint64_t unreported = 0;       // stalls since the last report that were not logged
  };

  StallDetector(std::chrono::milliseconds tick, std::chrono::milliseconds threshold, std::chrono::milliseconds quiet);

  void beat(Clock::time_point now);
  // A stall to report now; nothing for a stall already reported or while quiet.
  std::optional<Stall> check(Clock::time_point now);
  std::uint64_t stalls() const { return stalls_; }

 private:
  const std::chrono::milliseconds tick_, threshold_, quiet_;
  std::atomic<Clock::rep> last_beat_{0};
  Clock::rep judged_beat_ = -1;  // the beat whose lateness was last counted
  std::optional<Clock::time_point> last_report_;
  std::uint64_t unreported_ = 0;
  std::atomic<std::uint64_t> stalls_{0};
};

class LoopWatchdog {
 public:
  struct Options {
    std::chrono::milliseconds tick{50};
    std::chrono::milliseconds threshold{100};
    std::chrono::milliseconds quiet{10'000};
  };

  LoopWatchdog(boost::asio::any_io_executor loop, Options options);
  ~LoopWatchdog();
  LoopWatchdog(const LoopWatchdog&) = delete;
  LoopWatchdog& operator=(const LoopWatchdog&) = delete;

  void start();
  // Ends the thread; the loop's timer ends with the loop.
  void stop();
  std::uint64_t stalls() const { return detector_.stalls(); }

 private:
  void schedule_beat();
  void watch();

  Options options_;
  StallDetector detector_;
  boost::asio::steady_timer timer_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace steward
