#pragma once
// Runs work on the event loop under the fair queue's rules and the global
// connection limit, and measures how long work waited. Loop-thread only.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "core/clock.hpp"
#include "sched/fair_queue.hpp"

namespace steward::sched {

using Work = std::function<boost::asio::awaitable<void>(std::chrono::nanoseconds queue_wait)>;

// Who submitted work: the one fair queue serves both, and /metrics reports
// each as its own scheduler (a fixed set, so labels stay bounded).
enum class WorkKind : std::size_t { Jobs, Conditions };
inline constexpr std::array<WorkKind, 2> kWorkKinds{WorkKind::Jobs, WorkKind::Conditions};
const char* work_kind_name(WorkKind kind);  // "jobs", "conditions"

struct WaitStats {
  // Upper bounds of the histogram buckets, in seconds; the last one is +Inf.
  static constexpr std::array<double, 10> kBuckets{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 1e300};
  std::array<std::uint64_t, kBuckets.size()> counts{};
  std::uint64_t started = 0;
  double wait_seconds_sum = 0;
  double wait_seconds_max = 0;
  std::uint64_t completed = 0;
  std::size_t waiting = 0;  // queued now, not yet started
};

class Scheduler {
 public:
  Scheduler(boost::asio::any_io_executor executor, const Clock& clock, int max_connections);

  // Queues `work` for `target`; runs it when the rules allow. `runs` is how
  // many times this repeating work already ran (0 for one-shot work).
  void submit(const std::string& target, int max_sessions, std::uint64_t runs, Work work,
              WorkKind kind = WorkKind::Jobs);

  // No new work starts after this; running work goes on. Used at shutdown.
  void stop() { stopped_ = true; }

  std::size_t waiting() const { return queue_.waiting(); }
  std::size_t running() const { return queue_.running(); }
  int max_connections() const { return max_connections_; }
  // The time base of queue waits; what runs on this scheduler times itself on it too.
  const Clock& clock() const { return clock_; }
  const WaitStats& wait_stats(WorkKind kind) const { return stats_[static_cast<std::size_t>(kind)]; }

 private:
  struct Queued {
    WorkKind kind = WorkKind::Jobs;
    Work work;
  };

  void dispatch();
  void record_wait(WaitStats& stats, std::chrono::nanoseconds wait);
  WaitStats& stats_of(WorkKind kind) { return stats_[static_cast<std::size_t>(kind)]; }

  boost::asio::any_io_executor executor_;
  const Clock& clock_;
  int max_connections_;
  FairQueue<Queued> queue_;
  std::array<WaitStats, kWorkKinds.size()> stats_{};
  bool stopped_ = false;
};

}  // namespace steward::sched
