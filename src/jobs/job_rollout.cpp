// Rolling batches and the failure threshold (jobs/rollout.hpp): which of a
// job's targets are let in to the scheduler, and when.
#include "core/clock.hpp"
#include "jobs/job_service.hpp"
#include "jobs/live_job.hpp"
#include "store/store.hpp"

namespace steward::jobs {

void JobService::start_rollout(const std::shared_ptr<LiveJob>& live, std::vector<Target> targets,
                               std::size_t running) {
  auto& rollout = live->rollout;
  boost::json::object args = live->job.operate_args;
  if (auto spec = take_rollout(args)) rollout.sizes = resolve_rollout(*spec, live->job.targets.size());
  if (!rollout.active()) {
    for (const auto& target : targets) admit(live, target);
    return;
  }
  rollout.waiting.assign(std::make_move_iterator(targets.begin()), std::make_move_iterator(targets.end()));
  rollout.open = running;
  for (const auto& [name, run] : live->job.runs)
    rollout.failures += run.phase == RunPhase::Finished && op_state_is_failure(run.result.state) ? 1 : 0;
  if (running == 0) let_next_batch_in(live);
}

void JobService::admit_next_batch(const std::shared_ptr<LiveJob>& live) {
  auto& rollout = live->rollout;
  const std::size_t size = rollout.sizes.batch > 0 ? rollout.sizes.batch : rollout.waiting.size();
  std::vector<Target> batch;
  while (batch.size() < size && !rollout.waiting.empty()) {
    batch.push_back(std::move(rollout.waiting.front()));
    rollout.waiting.pop_front();
  }
  rollout.open += batch.size();
  for (const auto& target : batch) admit(live, target);
}

void JobService::advance_rollout(const std::shared_ptr<LiveJob>& live, const TargetRun& run) {
  auto& rollout = live->rollout;
  if (!rollout.active() || rollout.open == 0) return;
  --rollout.open;
  if (op_state_is_failure(run.result.state)) ++rollout.failures;
  if (rollout.open == 0) let_next_batch_in(live);
}

void JobService::let_next_batch_in(const std::shared_ptr<LiveJob>& live) {
  auto& rollout = live->rollout;
  if (rollout.waiting.empty()) return;
  if (!rollout.sizes.max_failures || rollout.failures <= *rollout.sizes.max_failures) {
    admit_next_batch(live);
    return;
  }
  const std::string why = threshold_reason(rollout.failures, live->job.targets.size(), *rollout.sizes.max_failures);
  for (const auto& target : rollout.waiting) skip_run(*live, target.name, why);
  rollout.waiting.clear();
}

void JobService::skip_run(LiveJob& live, const std::string& name, const std::string& why) {
  TargetRun& run = live.job.runs[name];
  live.finish(run);
  run.finishat = unix_now();
  run.result.state = OpState::Skipped;
  run.result.error = why;
  store_.save_result(live.job.jid, name, run);
  publish(live, JobEvent{JobEvent::Kind::Result, name, {}, run, {}});
  live.deferred.erase(name);
  if (live.exclusive()) leave_lane(live.job.operate, live.job.jid, name);
}

}  // namespace steward::jobs
