// The batched half of JobService: targets of a job whose operation runs once
// for many targets wait for each other, then share one run (job_service.hpp).
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "core/clock.hpp"
#include "jobs/job_service.hpp"
#include "jobs/live_job.hpp"
#include "ops/operation.hpp"
#include "sched/scheduler.hpp"
#include "store/store.hpp"

namespace steward::jobs {

using boost::asio::awaitable;

namespace {

constexpr auto kForever = std::chrono::steady_clock::time_point::max();

OpResult failed(std::string error) {
  OpResult result;
  result.state = OpState::Failed;
  result.error = std::move(error);
  return result;
}

std::size_t pending_targets(const Job& job) {
  return static_cast<std::size_t>(std::count_if(job.runs.begin(), job.runs.end(),
                                                [](const auto& entry) { return entry.second.phase == RunPhase::Pending; }));
}

}  // namespace

// Holds the target's scheduler slot from the moment it joins until its own
// result has arrived (or it is released unrun by a cancel or a shutdown).
awaitable<void> JobService::run_in_batch(std::shared_ptr<LiveJob> live, Target target,
                                         std::chrono::nanoseconds queue_wait) {
  auto member = std::make_shared<BatchMember>();
  member->target = std::move(target);
  member->queue_wait = queue_wait;
  live->waiting.push_back(member);
  ++batch_waiters_;
  flush_if_complete(live);
  if (member->state == BatchMember::State::Waiting) {
    // The scheduler may have started this work inline while it was still
    // starting the job's other targets: let them join before judging a stall.
    co_await boost::asio::post(executor_, boost::asio::use_awaitable);
    if (member->state == BatchMember::State::Waiting) flush_if_stalled();
  }
  while (member->state == BatchMember::State::Waiting || member->state == BatchMember::State::Running)
    co_await member->wake.wait_until(kForever);
  if (member->state == BatchMember::State::Released) co_return;
  --live->running;
  co_await finish_target(live, member->target.name, std::move(member->result));
}

// Every target still pending has joined: nobody else is coming.
void JobService::flush_if_complete(const std::shared_ptr<LiveJob>& live) {
  if (!live->waiting.empty() && live->waiting.size() == pending_targets(live->job)) flush(live);
}

// When every running work item waits in a batch, none of them can make room
// for a missing target (more targets than --max-connections, say): run what
// has joined.
void JobService::flush_if_stalled() {
  if (batch_waiters_ == 0 || batch_waiters_ < scheduler_.running()) return;
  std::vector<std::shared_ptr<LiveJob>> stalled;
  for (const auto& [jid, live] : live_)
    if (!live->waiting.empty()) stalled.push_back(live);
  for (const auto& live : stalled) flush(live);
}

void JobService::flush(const std::shared_ptr<LiveJob>& live) {
  std::vector<std::shared_ptr<BatchMember>> members = std::move(live->waiting);
  live->waiting.clear();
  batch_waiters_ -= members.size();
  for (auto& member : members) {
    member->state = BatchMember::State::Running;
    mark_running(*live, member->target.name, member->queue_wait);
  }
  boost::asio::co_spawn(executor_, run_batch(live, std::move(members)),
                        [jid = live->job.jid](std::exception_ptr failure) {
                          if (!failure) return;
                          try {
                            std::rethrow_exception(failure);
                          } catch (const std::exception& e) {
                            spdlog::error("job {}: a batch ended with an exception: {}", jid, e.what());
                          }
                        });
}

awaitable<void> JobService::run_batch(std::shared_ptr<LiveJob> live,
                                      std::vector<std::shared_ptr<BatchMember>> members) {
  std::map<std::string, std::shared_ptr<BatchMember>> by_target;
  ops::BatchContext context;
  for (const auto& member : members) {
    by_target[member->target.name] = member;
    context.targets.push_back(member->target);
    const TargetRun& run = live->job.runs[member->target.name];
    if (auto recorded = co_await store_.mark_started(live->job.jid, member->target.name, run); !recorded) {
      spdlog::error("job {}: could not record the start on {}: {}", live->job.jid, member->target.name,
                    recorded.error().message);
    }
  }
  auto deliver = [&by_target](const std::string& target, OpResult result) {
    auto it = by_target.find(target);
    if (it == by_target.end() || it->second->state != BatchMember::State::Running) return;
    it->second->result = std::move(result);
    it->second->state = BatchMember::State::Done;
    it->second->wake.notify_all();
  };
  if (live->cancel->cancelled()) {  // while the starts were being recorded
    for (const auto& member : members) deliver(member->target.name, failed("cancelled: " + live->cancel->reason()));
    co_return;
  }
  context.on_result = deliver;
  context.cancel = live->cancel;
  try {
    auto running = live->batch->run_batch(std::move(context), live->job.operate_args);
    co_await std::move(running);
  } catch (const std::exception& e) {
    spdlog::error("job {}: the batched operation failed: {}", live->job.jid, e.what());
  }
  const std::string why = live->cancel->cancelled() ? "cancelled: " + live->cancel->reason()
                                                    : std::string("the run ended without a result for it");
  for (const auto& member : members) deliver(member->target.name, failed(why));
}

void JobService::release_waiting(LiveJob& live) {
  batch_waiters_ -= live.waiting.size();
  for (auto& member : live.waiting) {
    member->state = BatchMember::State::Released;
    member->wake.notify_all();
  }
  live.waiting.clear();
}

}  // namespace steward::jobs
