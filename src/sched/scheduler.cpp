#include "sched/scheduler.hpp"
#include "core/spawn.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

namespace steward::sched {

Scheduler::Scheduler(boost::asio::any_io_executor executor, const Clock& clock, int max_connections)
    : executor_(std::move(executor)), clock_(clock), max_connections_(std::max(1, max_connections)) {}

const char* work_kind_name(WorkKind kind) {
  return kind == WorkKind::Conditions ? "conditions" : "jobs";
}

void Scheduler::submit(const std::string& target, int max_sessions, std::uint64_t runs, Work work,
                       WorkKind kind) {
  QueuedItem<Queued> item;
  item.target = target;
  item.max_sessions = max_sessions;
  item.runs = runs;
  item.submitted = clock_.now();
  item.payload = Queued{kind, std::move(work)};
  ++stats_of(kind).waiting;
  queue_.push(std::move(item));
  dispatch();
}

void Scheduler::dispatch() {
  while (!stopped_ && queue_.running() < static_cast<std::size_t>(max_connections_)) {
    auto item = queue_.pop_runnable();
    if (!item) return;
    auto wait = clock_.now() - item->submitted;
    const WorkKind kind = item->payload.kind;
    --stats_of(kind).waiting;
    record_wait(stats_of(kind), wait);
    auto target = item->target;
    // A coroutine lambda's captures live in the lambda object: keep it alive
    // until the coroutine it started has finished.
    auto work = std::make_shared<Work>(std::move(item->payload.work));
    boost::asio::co_spawn(executor_, (*work)(wait),
                          [this, work, kind, target = std::move(target)](std::exception_ptr failure) {
                            if (failure) report_spawn_failure("work on " + target, failure);
                            ++stats_of(kind).completed;
                            queue_.finished(target);
                            dispatch();
                          });
  }
}

void Scheduler::record_wait(WaitStats& stats, std::chrono::nanoseconds wait) {
  double seconds = std::chrono::duration<double>(wait).count();
  ++stats.started;
  stats.wait_seconds_sum += seconds;
  stats.wait_seconds_max = std::max(stats.wait_seconds_max, seconds);
  for (std::size_t i = 0; i < WaitStats::kBuckets.size(); ++i) {
    if (seconds <= WaitStats::kBuckets[i]) {
      ++stats.counts[i];
      break;
    }
  }
}

}  // namespace steward::sched
