// The batched half of JobService: targets of a job whose operation runs once
// for many targets wait for each other, then share one run (job_service.hpp).
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "jobs/job_service.hpp"
#include "jobs/live_job.hpp"
#include "ops/operation.hpp"
#include "sched/scheduler.hpp"
#include "core/spawn.hpp"

namespace steward::jobs {

using boost::asio::awaitable;

namespace {

constexpr auto kForever = std::chrono::steady_clock::time_point::max();

// Pending targets let in so far: a later rolling batch is not coming yet.
std::size_t pending_targets(const LiveJob& live) {
  std::size_t pending = 0;
  for (const auto& [name, run] : live.job.runs) pending += run.phase == RunPhase::Pending ? 1 : 0;
  return pending - live.rollout.waiting.size();
}

}  // namespace

// Holds the target's scheduler slot (and its host lane) from the moment it
// joins until the shared run has ended — the run may still act on a host it
// already reported (handlers, `always` blocks) — or until it is released
// unrun by a cancel or a shutdown. Its result is published as soon as it
// arrives.
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
  co_await finish_target(live, member->target.name, std::move(member->result), false);
  while (!member->run_over) co_await member->wake.wait_until(kForever);
  if (live->exclusive()) leave_lane(live->job.operate, live->job.jid, member->target.name);
  // The job ends only with the run: a client that sees it Done may start the next one on these hosts.
  if (live->all_finished()) co_await finalize(live);
}

// Every target still pending has joined: nobody else is coming.
void JobService::flush_if_complete(const std::shared_ptr<LiveJob>& live) {
  if (!live->waiting.empty() && live->waiting.size() == pending_targets(*live)) flush(live);
}

// When every running work item waits in a batch, none of them can make room
// for a missing target (a job with more targets than --max-connections): run
// what has joined. Judged when a target joins, the one moment it can start to
// hold: when other work ends, the next waiting work starts in its place, and
// jobs take each host in the order they came, so batches never wait on each
// other in a circle.
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
                        log_failure("job " + live->job.jid + ": a batch"));
}

awaitable<void> JobService::run_batch(std::shared_ptr<LiveJob> live,
                                      std::vector<std::shared_ptr<BatchMember>> members) {
  std::map<std::string, std::shared_ptr<BatchMember>> by_target;
  ops::BatchContext context;
  for (const auto& member : members) {
    by_target[member->target.name] = member;
    context.targets.push_back(member->target);
    co_await record_start(*live, member->target.name);
  }
  auto deliver = [&by_target](const std::string& target, OpResult result) {
    auto it = by_target.find(target);
    if (it == by_target.end() || it->second->state != BatchMember::State::Running) return;
    it->second->result = std::move(result);
    it->second->state = BatchMember::State::Done;
    it->second->wake.notify_all();
  };
  auto args = plain_args(live->job);
  if (!args) {
    for (const auto& member : members) deliver(member->target.name, failed_result(args.error().message));
  } else if (!live->cancel->cancelled()) {  // it may have been while the starts were recorded
    context.on_result = deliver;
    context.cancel = live->cancel;
    try {
      auto running = live->batch->run_batch(std::move(context), *args);
      co_await std::move(running);
    } catch (const std::exception& e) {
      spdlog::error("job {}: the batched operation failed: {}", live->job.jid, e.what());
    }
  }
  const std::string why = live->cancel->cancelled() ? "cancelled: " + live->cancel->reason()
                                                    : std::string("the run ended without a result for it");
  for (const auto& member : members) {
    deliver(member->target.name, failed_result(why));
    member->run_over = true;
    member->wake.notify_all();
  }
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
