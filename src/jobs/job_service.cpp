#include "jobs/job_service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/spawn.hpp"
#include "core/secret_args.hpp"
#include "jobs/live_job.hpp"
#include "jobs/rollout.hpp"
#include "ops/args.hpp"
#include "ops/operation.hpp"
#include "sched/scheduler.hpp"
#include "store/store.hpp"
#include "transport/transport.hpp"

namespace steward::jobs {

using boost::asio::awaitable;

namespace {

// How long cancel() waits for killed processes to be reaped.
constexpr std::chrono::seconds kCancelWait{15};

Error no_such_job(const std::string& jid) { return make_error(ErrorCode::NotFound, "no such job: " + jid); }

// A copy of a live job whose runs keep only the output `output` asks for.
Job capped(const Job& job, const store::OutputLimit& output) {
  Job copy = job;
  if (output.tail != store::OutputLimit::kAll) {
    for (auto& [name, run] : copy.runs) keep_output_tail(run.result, output.tail);
  }
  return copy;
}

// An exclusive operation's "queue" flag, taken out of its arguments: it says
// how to admit the job, not what the operation does.
Result<bool> take_queue_flag(const ops::Operation& op, boost::json::object& args) {
  if (!op.exclusive_per_host()) return false;
  auto queue = ops::optional_bool(args, "queue", false);
  if (!queue) return queue.error();
  args.erase("queue");
  return *queue;
}

Error operate_conflict(const std::string& operate, const std::vector<HostLanes::Holder>& holders) {
  std::string where;
  for (const auto& holder : holders) where += (where.empty() ? "" : ", ") + holder.host + " (job " + holder.jid + ")";
  return make_error(ErrorCode::Conflict, "operate conflict: " + operate + " is already queued or running on " + where +
                                             "; send \"queue\": true to run after it");
}

}  // namespace

JobService::JobService(boost::asio::any_io_executor executor, store::Store& store, sched::Scheduler& scheduler,
                       const transport::TransportRegistry& transports, const ops::OpRegistry& ops,
                       TargetResolver resolver, const ArgSecrets* secrets)
    : executor_(std::move(executor)),
      store_(store),
      scheduler_(scheduler),
      transports_(transports),
      ops_(ops),
      resolver_(std::move(resolver)),
      secrets_(secrets) {}

JobService::~JobService() = default;

Status JobService::validate(const std::string& operate, const boost::json::object& args) const {
  auto op = ops_.find(operate);
  if (!op) return op.error();
  boost::json::object op_args = args;
  if (auto queue = take_queue_flag(**op, op_args); !queue) return queue.error();
  if (auto rollout = take_rollout(op_args); !rollout) return rollout.error();
  return (*op)->validate(op_args);
}

awaitable<Result<std::string>> JobService::submit(JobRequest request) {
  if (stopping_) co_return make_error(ErrorCode::Unavailable, "server is shutting down");
  if (request.targets.empty()) co_return make_error(ErrorCode::InvalidArgument, "no targets");
  auto op = ops_.find(request.operate);
  if (!op) co_return op.error();
  auto queue = take_queue_flag(**op, request.args);
  if (!queue) co_return queue.error();
  // Kept in the stored arguments, so a restart goes on batch by batch.
  boost::json::object op_args = request.args;
  auto rollout = take_rollout(op_args);
  if (!rollout) co_return rollout.error();
  if (auto valid = (*op)->validate(op_args); !valid) co_return valid.error();

  auto live = std::make_shared<LiveJob>();
  live->op = *op;
  live->batch = (*op)->batched(op_args);
  if (secrets_) {
    auto sealed = secrets_->seal(std::move(request.args));
    if (!sealed) co_return sealed.error();
    request.args = std::move(*sealed);
  }
  Job& job = live->job;
  job.jid = new_jid();
  job.startat = unix_now();
  job.operate = request.operate;
  job.operate_args = std::move(request.args);
  std::vector<Target> distinct;
  for (auto& target : request.targets) {
    if (!job.runs.emplace(target.name, TargetRun{}).second) continue;
    job.targets.push_back(target.name);
    distinct.push_back(std::move(target));
  }
  // Checked and taken before the first suspension, so two requests cannot both pass.
  if (live->exclusive()) {
    if (auto holders = lanes_.occupied(job.operate, job.targets); !holders.empty() && !*queue)
      co_return operate_conflict(job.operate, holders);
    for (const auto& target : job.targets) lanes_.enter(job.operate, target, job.jid);
  }
  // A job run once for many targets, or batch by batch, stays whole on this
  // server; any other is run by the owners of its targets (README "Servers and leases").
  const bool whole = live->batch || rollout->active();
  auto placing = place(job, whole);
  auto owners = co_await std::move(placing);
  if (!owners) {
    spdlog::error("job not accepted, store failed: {}", owners.error().message);
    for (const auto& target : job.targets) leave_lane(job.operate, job.jid, target);
    // A store that is away (Redis down) is a 503 "store unavailable: ...", which a client may retry.
    if (owners.error().code == ErrorCode::Unavailable) co_return owners.error();
    co_return make_error(ErrorCode::Internal, "could not record the job: " + owners.error().message);
  }
  ++counters_.accepted;
  ++counters_.accepted_by_operation[job.operate];
  auto mine = keep_own_runs(*live, std::move(distinct), *owners);
  if (!mine.empty()) {
    live_[job.jid] = live;
    start_rollout(live, std::move(mine));
  }
  co_return job.jid;
}

awaitable<Result<std::vector<std::string>>> JobService::place(const Job& job, bool whole) {
  if (!whole) co_return co_await store_.create_job_by_target(job);
  auto created = co_await store_.create_job(job);
  if (!created) co_return created.error();
  co_return std::vector<std::string>(job.targets.size(), lease_.server_id);
}

// The runs other servers own leave the live job (and their lanes here): a
// part of a job lives on each server that owns some of its runs.
std::vector<Target> JobService::keep_own_runs(LiveJob& live, std::vector<Target> targets,
                                              const std::vector<std::string>& owners) {
  std::vector<Target> mine;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (owners[i] == lease_.server_id) {
      mine.push_back(std::move(targets[i]));
      continue;
    }
    live.whole = false;
    live.job.runs.erase(targets[i].name);
    if (live.exclusive()) leave_lane(live.job.operate, live.job.jid, targets[i].name);
  }
  return mine;
}

std::shared_ptr<LiveJob> JobService::whole_live(const std::string& jid) const {
  auto it = live_.find(jid);
  return it != live_.end() && it->second->whole ? it->second : nullptr;
}

awaitable<Result<Job>> JobService::get(const std::string& jid, store::OutputLimit output) {
  if (auto live = whole_live(jid)) co_return capped(live->job, output);
  // A part's results are written behind; readers see them once they are durable.
  if (live_.contains(jid)) (void)co_await store_.flush();
  auto loaded = co_await store_.load_job(jid, output);
  if (!loaded) co_return loaded.error();
  if (!loaded->has_value()) co_return no_such_job(jid);
  co_return std::move(**loaded);
}

awaitable<Result<std::vector<Job>>> JobService::list(store::JobPage page, store::OutputLimit output) {
  auto jobs = co_await store_.list_jobs(page, output);
  if (!jobs) co_return jobs.error();
  for (auto& job : *jobs) {  // the store lags the live view by up to one commit
    if (auto live = whole_live(job.jid)) job = capped(live->job, output);
  }
  co_return std::move(*jobs);
}

awaitable<Result<store::OutputPage>> JobService::read_output(const std::string& jid, const std::string& target,
                                                             store::OutputStream stream, std::uint64_t offset,
                                                             std::size_t limit) {
  // A live target's result is written behind; readers see it once it is durable.
  if (live_.count(jid)) (void)co_await store_.flush();
  auto page = co_await store_.read_output(jid, target, stream, offset, limit);
  if (!page) co_return page.error();
  if (page->has_value()) co_return std::move(**page);
  auto job = co_await store_.load_job(jid, store::OutputLimit{0});
  if (!job) co_return job.error();
  if (!job->has_value()) co_return no_such_job(jid);
  co_return make_error(ErrorCode::NotFound, "job " + jid + " has no target " + target);
}

// Every job is in the store from submit() on, so ids need no live view.
awaitable<Result<std::vector<std::string>>> JobService::list_ids(store::JobPage page) {
  co_return co_await store_.list_job_ids(page);
}

awaitable<Result<Job>> JobService::wait(const std::string& jid, std::chrono::steady_clock::time_point deadline) {
  auto live = whole_live(jid);
  if (!live) co_return co_await wait_stored(jid, deadline);
  while (!live->ended) {
    if (!co_await live->ended_signal.wait_until(deadline) && !live->ended) {
      co_return make_error(ErrorCode::Timeout, "job " + jid + " is still running");
    }
  }
  co_return live->job;
}

awaitable<Result<Job>> JobService::cancel(const std::string& jid, const std::string& reason) {
  auto it = live_.find(jid);
  auto live = it != live_.end() ? it->second : nullptr;
  if (!live || !live->whole) {
    // Running elsewhere too, or here once recover() gets to it: the owners act on the request.
    auto asked = co_await store_.request_cancel(jid, reason);
    if (!asked && !live) co_return asked.error();
  }
  if (live) {
    cancel_live(live, reason);
    co_await end_if_idle(live);
  }
  co_return co_await wait(jid, std::chrono::steady_clock::now() + kCancelWait);
}

void JobService::cancel_live(const std::shared_ptr<LiveJob>& live, const std::string& reason) {
  if (live->ended || live->cancel->cancelled()) return;
  live->cancel->cancel(reason);
  skip_pending(*live, "cancelled before it started: " + reason);
  release_waiting(*live);
}

awaitable<void> JobService::end_if_idle(std::shared_ptr<LiveJob> live) {
  if (!live->ended && live->running == 0) co_await finalize(live);
}

awaitable<Status> JobService::remove(const std::string& jid) {
  // Whichever server runs it stops it first; NotFound for an unknown job.
  auto cancelled = co_await cancel(jid, "job deleted");
  if (!cancelled) co_return cancelled.error();
  auto deleted = co_await store_.delete_job(jid);
  if (!deleted) co_return deleted.error();
  if (!*deleted) co_return no_such_job(jid);
  co_return Status{};
}

awaitable<Result<std::shared_ptr<Subscription>>> JobService::subscribe(const std::string& jid, bool with_output) {
  auto live = whole_live(jid);
  if (!live) co_return co_await replay_stored(jid, with_output);
  auto subscription = std::make_shared<Subscription>(executor_, with_output);
  live->subscribers.push_back(subscription);
  co_await replay_live(*live, *subscription);
  co_return subscription;
}

// Everything that happened before the subscriber attached: stored output
// (flushed first, so nothing is in flight), then the targets already done.
awaitable<void> JobService::replay_live(LiveJob& live, Subscription& subscription) {
  std::deque<JobEvent> history;
  // A job that ended before we attached already sent its Done to others.
  const bool ended_before_attach = live.ended;
  std::uint64_t attached_at_seq = live.next_seq;
  std::map<std::string, TargetRun> finished_at_attach;
  for (const auto& [name, run] : live.job.runs)
    if (run.phase == RunPhase::Finished) finished_at_attach.emplace(name, run);
  if (subscription.wants_output() && attached_at_seq > 1) {
    (void)co_await store_.flush();
    auto chunks = co_await store_.load_output(live.job.jid, 0);
    if (chunks) {
      for (auto& chunk : *chunks) {
        if (chunk.seq >= attached_at_seq) break;
        history.push_back(JobEvent{JobEvent::Kind::Output, chunk.target, std::move(chunk), {}, {}});
      }
    }
  }
  for (auto& [name, run] : finished_at_attach) history.push_back(JobEvent{JobEvent::Kind::Result, name, {}, run, {}});
  if (ended_before_attach) history.push_back(JobEvent{JobEvent::Kind::Done, "", {}, {}, live.job});
  subscription.prepend(std::move(history));
}

awaitable<Result<std::shared_ptr<Subscription>>> JobService::replay_stored(const std::string& jid, bool with_output) {
  auto job = co_await get(jid);
  if (!job) co_return job.error();
  auto subscription = std::make_shared<Subscription>(executor_, with_output);
  if (job->state == JobState::Running) {  // run by another server: its events come through the store
    boost::asio::co_spawn(executor_, follow_stored(jid, subscription), log_failure("following job " + jid));
    co_return subscription;
  }
  std::deque<JobEvent> history;
  if (with_output) {
    auto chunks = co_await store_.load_output(jid, 0);
    if (!chunks) co_return chunks.error();
    for (auto& chunk : *chunks) history.push_back(JobEvent{JobEvent::Kind::Output, chunk.target, std::move(chunk), {}, {}});
  }
  for (const auto& name : job->targets) {
    const auto& run = job->runs[name];
    if (run.phase == RunPhase::Finished) history.push_back(JobEvent{JobEvent::Kind::Result, name, {}, run, {}});
  }
  history.push_back(JobEvent{JobEvent::Kind::Done, "", {}, {}, *job});
  subscription->prepend(std::move(history));
  co_return subscription;
}

Result<boost::json::object> JobService::plain_args(const Job& job) const {
  boost::json::object args = job.operate_args;
  if (secrets_) {
    auto opened = secrets_->open(args);
    if (!opened) return make_error(opened.error().code, "cannot run: " + opened.error().message);
    args = std::move(*opened);
  }
  (void)take_rollout(args);  // how to run the job, not what the operation does
  return args;
}

std::size_t JobService::running_targets() const {
  std::size_t running = 0;
  for (const auto& [jid, live] : live_) running += live->running;
  return running;
}

}  // namespace steward::jobs
