// The half of JobService that deals with other servers on the same store
// (README "Servers and leases"): this server's lease, taking over the work of
// servers that died, cancel requests made elsewhere, and following or waiting
// for jobs that another server runs.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <set>

#include "core/clock.hpp"
#include "core/spawn.hpp"
#include "core/timer.hpp"
#include "jobs/job_service.hpp"
#include "jobs/live_job.hpp"
#include "sched/scheduler.hpp"
#include "store/store.hpp"

namespace steward::jobs {

using boost::asio::awaitable;

namespace {

// How often a follower or a waiter looks at a job another server runs.
constexpr std::chrono::milliseconds kStoredJobPoll{200};
// With a store that tells of new work and cancels (Store::wait_for_news),
// how long before they are read anyway: the safety net for news lost while
// the store could not listen.
constexpr std::chrono::milliseconds kUntoldReadAfter{1000};
constexpr std::chrono::milliseconds kNewsGathering{10};

}  // namespace

// Pass a local, never a braced temporary: PR 99576 destroys those twice.
awaitable<Status> JobService::take_lease(const LeaseOptions& options) {
  lease_ = options;
  auto acquired = co_await store_.acquire_lease(lease_.server_id, unix_now(), lease_.ttl_seconds);
  if (!acquired) co_return acquired.error();
  spdlog::info("server {} holds its lease (epoch {})", acquired->server, acquired->epoch);
  co_return Status{};
}

awaitable<void> JobService::keep_lease_once(double now) {
  co_await renew_lease_once(now);
  co_await take_over_once(now);
}

awaitable<void> JobService::renew_lease_once(double now) {
  auto renewed = co_await store_.renew_lease(now, lease_.ttl_seconds);
  if (!renewed && renewed.error().code != ErrorCode::Conflict) {
    // The store is away: the work goes on, and is another's only if the lease expires meanwhile.
    spdlog::warn("could not renew the lease of server {}: {}", lease_.server_id, renewed.error().message);
    co_return;
  }
  if (!renewed) {
    spdlog::error("{}: its live work is dropped, another server runs it now", renewed.error().message);
    abandon_live_work(renewed.error().message);
    auto again = co_await store_.acquire_lease(lease_.server_id, now, lease_.ttl_seconds);
    if (!again) {
      spdlog::error("could not take a new lease: {}", again.error().message);
      co_return;
    }
    spdlog::info("server {} holds a new lease (epoch {})", again->server, again->epoch);
  }
}

awaitable<void> JobService::take_over_once(double now) {
  auto taken = co_await store_.take_over(now);
  if (!taken) {
    spdlog::warn("could not take over expired work: {}", taken.error().message);
  } else if (!taken->empty()) {
    co_await resume_taken(*taken);
  }
  co_await end_unended_jobs(now);
}

// A server that dies between storing a job's last result and ending the job
// leaves it Running with nothing left to run. Whichever server sees such a
// job first ends it, once a lease's time has passed since its last run
// finished, by which a live server would have ended it itself.
awaitable<void> JobService::end_unended_jobs(double now) {
  auto unended = co_await store_.unended_jobs(now - lease_.ttl_seconds);
  if (!unended) {
    spdlog::warn("could not look for jobs left unended: {}", unended.error().message);
    co_return;
  }
  for (const auto& jid : *unended) {
    if (live_.contains(jid)) continue;
    spdlog::warn("job {}: every target has finished but the job never ended (its server died); ending it", jid);
    co_await end_if_finished(jid, std::nullopt);
  }
}

JobService::LostRuns JobService::lost_runs(const std::vector<store::TakenRun>& taken) {
  LostRuns lost;
  for (const auto& run : taken)
    if (!run.from.empty()) lost[run.jid][run.target] = run.from;
  return lost;
}

awaitable<void> JobService::resume_taken(const std::vector<store::TakenRun>& taken) {
  std::vector<std::string> jids;  // in the order they came
  for (const auto& run : taken) {
    if (std::find(jids.begin(), jids.end(), run.jid) == jids.end()) jids.push_back(run.jid);
    if (run.target.empty()) continue;  // a new job placed with us
    spdlog::warn("job {}: {} taken over from server {}", run.jid, run.target, run.from.empty() ? "(earlier life)" : run.from);
    ++counters_.recovered;
  }
  auto lost = lost_runs(taken);
  for (const auto& jid : jids) {
    auto job = co_await store_.load_job(jid, store::OutputLimit{});
    if (!job || !job->has_value() || (*job)->state != JobState::Running) continue;
    auto lost_here = std::move(lost[jid]);
    co_await resume(std::move(**job), std::move(lost_here));
  }
}

// Jobs other servers placed runs of with us, and runs of dead servers they
// handed us: each becomes (or joins) a live part here.
awaitable<void> JobService::take_inbox_once() {
  auto entries = co_await store_.take_inbox();
  if (!entries) {
    spdlog::warn("could not read the work other servers placed here: {}", entries.error().message);
    co_return;
  }
  if (!entries->empty()) co_await resume_taken(*entries);
}

// Our lease was taken over, so every run we hold is another server's now:
// our processes are stopped and our writes are refused from here on.
// Readers of these jobs go on following them through the store.
void JobService::abandon_live_work(const std::string& why) {
  auto abandoned = std::move(live_);
  live_.clear();
  for (auto& [jid, live] : abandoned) {
    live->ended = true;  // its scheduled targets do not start
    live->cancel->cancel(why);
    release_waiting(*live);
    live->deferred.clear();
    for (auto& weak : live->subscribers) {
      if (weak.expired()) continue;
      boost::asio::co_spawn(executor_, follow_stored(jid, weak, live->next_seq - 1),
                            log_failure("following job " + jid));
    }
    live->subscribers.clear();
    live->ended_signal.notify_all();
    for (const auto& [name, run] : live->job.runs) {
      if (live->exclusive() && run.phase == RunPhase::Pending) leave_lane(live->job.operate, jid, name);
    }
  }
}

// Renewal has a loop of its own: making thousands of taken or placed runs
// live takes long enough on a busy server to let its lease expire, which
// would hand all its work to others while it still runs it.
awaitable<void> JobService::keep_lease(std::chrono::milliseconds store_poll) {
  using namespace boost::asio::experimental::awaitable_operators;
  const auto renew_every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(lease_.ttl_seconds / 3));
  auto renewing = renew_lease_periodically(renew_every);
  auto polling = poll_store_periodically(renew_every, store_poll);
  co_await (std::move(renewing) && std::move(polling));
}

awaitable<void> JobService::renew_lease_periodically(std::chrono::steady_clock::duration every) {
  const Clock& clock = scheduler_.clock();
  while (!stopping_) {
    co_await steward::sleep_for(clock, every);
    if (!stopping_) co_await renew_lease_once(unix_now());
  }
}

awaitable<void> JobService::poll_store_periodically(std::chrono::steady_clock::duration take_over_every,
                                                    std::chrono::milliseconds poll) {
  const Clock& clock = scheduler_.clock();
  auto next_take_over = clock.now() + take_over_every;
  while (!stopping_) {
    if (clock.now() >= next_take_over) {
      co_await take_over_once(unix_now());
      next_take_over = clock.now() + take_over_every;
    }
    co_await take_inbox_once();
    co_await act_on_cancel_requests();
    auto waiting = store_.wait_for_news(kUntoldReadAfter);
    const store::News news = co_await std::move(waiting);
    if (news == store::News::NotPushed) co_await steward::sleep_for(clock, poll);
    // While others place work here fast, news of many jobs comes together:
    // one read takes them all, instead of a read for each.
    if (news == store::News::Told) co_await steward::sleep_for(clock, kNewsGathering);
  }
}

awaitable<void> JobService::release_lease() {
  if (auto released = co_await store_.release_lease(); !released)
    spdlog::warn("could not release the lease of server {}: {}", lease_.server_id, released.error().message);
}

awaitable<void> JobService::act_on_cancel_requests() {
  auto requests = co_await store_.cancel_requests();
  if (!requests) {
    spdlog::warn("could not read cancel requests: {}", requests.error().message);
    co_return;
  }
  for (const auto& request : *requests) {
    auto it = live_.find(request.jid);
    if (it == live_.end()) continue;
    auto live = it->second;
    if (live->ended || live->cancel->cancelled()) continue;
    spdlog::info("job {}: cancelled through the store: {}", request.jid, request.reason);
    cancel_live(live, request.reason);
    co_await end_if_idle(live);
  }
}

awaitable<Result<Job>> JobService::wait_stored(const std::string& jid, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (whole_live(jid)) co_return co_await wait(jid, deadline);
    auto job = co_await get(jid);
    if (!job || job->state != JobState::Running) co_return job;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) co_return make_error(ErrorCode::Timeout, "job " + jid + " is still running");
    co_await steward::sleep_for(scheduler_.clock(),
                                std::min<std::chrono::steady_clock::duration>(kStoredJobPoll, deadline - now));
  }
}

// Output chunks after `after_seq`, then each target's result as it is
// stored, then the end. Stops when the reader goes away.
awaitable<void> JobService::follow_stored(std::string jid, std::weak_ptr<Subscription> reader, std::uint64_t after_seq) {
  std::set<std::string> reported;
  if (after_seq > 0) {  // a live follower already saw the targets finished so far
    if (auto job = co_await store_.load_job(jid, store::OutputLimit{0}); job && job->has_value()) {
      for (const auto& [name, run] : (*job)->runs)
        if (run.phase == RunPhase::Finished) reported.insert(name);
    }
  }
  for (;;) {
    auto subscription = reader.lock();
    if (!subscription) co_return;
    if (subscription->wants_output()) {
      auto chunks = co_await store_.load_output(jid, after_seq);
      if (chunks) {
        for (auto& chunk : *chunks) {
          after_seq = chunk.seq;
          subscription->push(JobEvent{JobEvent::Kind::Output, chunk.target, std::move(chunk), {}, {}});
        }
      }
    }
    auto light = co_await store_.load_job(jid, store::OutputLimit{0});
    if (!light || !light->has_value()) {
      subscription->push(JobEvent{JobEvent::Kind::Done, "", {}, {}, {}});
      co_return;
    }
    const bool ended = (*light)->state != JobState::Running;
    bool news = false;
    for (const auto& [name, run] : (*light)->runs) news |= run.phase == RunPhase::Finished && !reported.contains(name);
    if (ended && subscription->wants_output()) {  // what was written after the read above
      auto rest = co_await store_.load_output(jid, after_seq);
      if (rest) {
        for (auto& chunk : *rest) subscription->push(JobEvent{JobEvent::Kind::Output, chunk.target, std::move(chunk), {}, {}});
      }
    }
    if (news || ended) {
      auto full = co_await store_.load_job(jid, store::OutputLimit{});
      const Job& job = full && full->has_value() ? **full : **light;
      for (const auto& name : job.targets) {
        const auto& run = job.runs.at(name);
        if (run.phase != RunPhase::Finished || !reported.insert(name).second) continue;
        subscription->push(JobEvent{JobEvent::Kind::Result, name, {}, run, {}});
      }
      if (ended) {
        subscription->push(JobEvent{JobEvent::Kind::Done, "", {}, {}, job});
        co_return;
      }
    }
    subscription.reset();
    co_await steward::sleep_for(scheduler_.clock(), kStoredJobPoll);
  }
}

}  // namespace steward::jobs
