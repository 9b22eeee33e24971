// The running half of JobService: per-target work, the job's end, restart
// repair, retention and shutdown.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>

#include "core/clock.hpp"
#include "core/spawn.hpp"
#include "core/strings.hpp"
#include "core/timer.hpp"
#include "jobs/job_service.hpp"
#include "jobs/live_job.hpp"
#include "jobs/run_journal.hpp"
#include "ops/operation.hpp"
#include "sched/scheduler.hpp"
#include "store/store.hpp"
#include "transport/transport.hpp"

namespace steward::jobs {

using boost::asio::awaitable;

namespace {

constexpr std::chrono::seconds kAfterCancelWait{10};
constexpr std::chrono::seconds kEndRetry{1};

store::OutputStream to_store_stream(transport::Stream stream) {
  return stream == transport::Stream::Stdout ? store::OutputStream::Stdout : store::OutputStream::Stderr;
}

// Done when every target ended well; Failure when any failed, was
// unreachable, or the job was cancelled (a reason is given).
void settle_job_state(Job& job, const std::optional<std::string>& cancel_reason) {
  std::size_t failed = 0;
  for (const auto& [name, run] : job.runs) failed += op_state_is_failure(run.result.state) ? 1 : 0;
  job.finishat = unix_now();
  if (cancel_reason) {
    job.state = JobState::Failure;
    job.error = "cancelled: " + *cancel_reason;
  } else if (failed > 0) {
    job.state = JobState::Failure;
    job.error = std::to_string(failed) + " of " + std::to_string(job.runs.size()) + " targets failed";
  } else {
    job.state = JobState::Done;
    job.error.clear();
  }
}

std::optional<std::string> cancel_reason(const CancelState& cancel) {
  return cancel.cancelled() ? std::optional<std::string>(cancel.reason()) : std::nullopt;
}

// An agent no inventory entry names is a host (its id) only while it is
// connected, so right after a restart it may not resolve yet; the agent
// transport finds it by that name.
Result<Target> orphan_target(const TargetResolver& resolver, const std::string& name, const std::string& connection) {
  auto target = resolver(name);
  if (target || connection != "agent") return target;
  Target unlisted;
  unlisted.name = name;
  unlisted.connection = connection;
  return unlisted;
}

}  // namespace

// Exclusive operations wait for their turn on the host before they queue for it.
void JobService::admit(const std::shared_ptr<LiveJob>& live, const Target& target) {
  if (!live->exclusive() || lanes_.first(live->job.operate, target.name, live->job.jid)) {
    enqueue(live, target);
    return;
  }
  live->deferred.insert_or_assign(target.name, DeferredTarget{target, std::chrono::steady_clock::now()});
}

// `waited`: time the target already spent waiting for its turn on the host.
void JobService::enqueue(const std::shared_ptr<LiveJob>& live, const Target& target, std::chrono::nanoseconds waited) {
  scheduler_.submit(target.name, target.max_sessions, 0,
                    [this, live, target, waited](std::chrono::nanoseconds wait) -> awaitable<void> {
                      co_await run_target(live, target, waited + wait);
                    });
}

// The job's turn on the host is over; the next job in line there gets it.
void JobService::leave_lane(const std::string& operate, const std::string& jid, const std::string& target) {
  auto next = lanes_.leave(operate, target, jid);
  if (!next) return;
  auto it = live_.find(*next);
  if (it == live_.end()) return;  // not durable yet: it looks at its turn once it is
  auto& deferred = it->second->deferred;
  auto found = deferred.find(target);
  if (found == deferred.end()) return;
  DeferredTarget turn = std::move(found->second);
  deferred.erase(found);
  enqueue(it->second, turn.target, std::chrono::steady_clock::now() - turn.since);
}

void JobService::mark_running(LiveJob& live, const std::string& target, std::chrono::nanoseconds queue_wait) {
  TargetRun& run = live.job.runs[target];
  run.phase = RunPhase::Running;
  run.startat = unix_now();
  run.queue_wait = std::chrono::duration<double>(queue_wait).count();
  ++live.running;
}

// Recorded before the operation runs, so that a restart knows it was
// interrupted. False when the run is no longer ours to start (our lease was
// taken over); a store fault is logged and the run goes on.
awaitable<bool> JobService::record_start(LiveJob& live, const std::string& target) {
  const TargetRun& run = live.job.runs[target];
  auto recorded = co_await store_.mark_started(live.job.jid, target, run);
  if (recorded) co_return true;
  spdlog::error("job {}: could not record the start on {}: {}", live.job.jid, target, recorded.error().message);
  co_return recorded.error().code != ErrorCode::Conflict;
}

awaitable<void> JobService::run_target(std::shared_ptr<LiveJob> live, Target target,
                                       std::chrono::nanoseconds queue_wait) {
  const TargetRun& run = live->job.runs[target.name];
  // Skipped by a cancel, left for the next start, or no longer ours.
  if (run.phase != RunPhase::Pending || stopping_ || live->ended) co_return;
  if (live->batch) {
    co_await run_in_batch(std::move(live), std::move(target), queue_wait);
    co_return;
  }
  mark_running(*live, target.name, queue_wait);
  const bool ours = co_await record_start(*live, target.name);

  OpResult result;
  std::shared_ptr<RunJournal> journal;
  auto transport = transports_.get(target.connection);
  auto args = plain_args(live->job);
  if (!ours) {
    result = failed_result("not started: another server owns this run now");
  } else if (live->cancel->cancelled()) {  // while the start was being recorded
    result = failed_result("cancelled: " + live->cancel->reason());
  } else if (!transport) {
    result = failed_result(transport.error().message);
  } else if (!args) {
    result = failed_result(args.error().message);
  } else {
    // Chunks end on character boundaries, so a character split between two
    // reads is not turned into two U+FFFD by readers that repair each chunk.
    auto aligners = std::make_shared<std::array<Utf8ChunkAligner, 2>>();
    auto record = [this, live, name = target.name](transport::Stream stream, std::string data) {
      if (data.empty()) return;
      // A part's chunks are numbered by the store, after the other servers' chunks of the job.
      const std::uint64_t seq = live->whole ? live->next_seq++ : 0;
      store::OutputChunk chunk{seq, name, to_store_stream(stream), std::move(data), unix_now()};
      store_.append_output(live->job.jid, chunk);
      publish(*live, JobEvent{JobEvent::Kind::Output, name, std::move(chunk), {}, {}});
    };
    auto sink = [record, aligners](transport::Stream stream, std::string_view data) {
      record(stream, (*aligners)[static_cast<std::size_t>(stream)].take(data));
    };
    journal = std::make_shared<RunJournal>(store_, live->job.jid, target);
    JournaledTransport supervised(**transport, journal);
    ops::OpContext context{supervised, target, sink, live->cancel};
    result = co_await live->op->run(context, *args);
    for (auto stream : {transport::Stream::Stdout, transport::Stream::Stderr})
      record(stream, (*aligners)[static_cast<std::size_t>(stream)].rest());
  }
  --live->running;
  const std::string jid = live->job.jid;
  co_await finish_target(live, target.name, std::move(result));
  if (journal && !journal->status_paths().empty()) co_await forget_commands(jid, target, *journal);
}

// Once the target's result is durable (forget_processes is ordered after it),
// a restart no longer needs its commands' records or status files.
awaitable<void> JobService::forget_commands(std::string jid, Target target, const RunJournal& journal) {
  auto forgotten = co_await store_.forget_processes(jid, target.name);
  if (!forgotten) {
    spdlog::error("job {}: could not forget the commands of {}: {}", jid, target.name, forgotten.error().message);
    co_return;
  }
  auto transport = transports_.get(target.connection);
  if (!transport) co_return;
  for (const auto& path : journal.status_paths()) (*transport)->forget_status(target, path);
}

awaitable<void> JobService::finish_target(std::shared_ptr<LiveJob> live, const std::string& target, OpResult result,
                                          bool settle) {
  TargetRun& run = live->job.runs[target];
  live->finish(run);
  run.finishat = unix_now();
  run.result = std::move(result);
  store_.save_result(live->job.jid, target, run);
  if (run_observer_) run_observer_(target, run);
  publish(*live, JobEvent{JobEvent::Kind::Result, target, {}, run, {}});
  advance_rollout(live, run);
  if (!settle) co_return;
  if (live->exclusive()) leave_lane(live->job.operate, live->job.jid, target);
  if (live->all_finished()) co_await finalize(live);
}

awaitable<void> JobService::finalize(std::shared_ptr<LiveJob> live) {
  if (live->ended) co_return;
  if (!live->whole) {
    co_await end_part(std::move(live));
    co_return;
  }
  live->ended = true;
  settle_job_state(live->job, cancel_reason(*live->cancel));
  ++counters_.finished;
  ++counters_.finished_by_operation[{live->job.operate, live->job.state}];
  publish(*live, JobEvent{JobEvent::Kind::Done, "", {}, {}, live->job});
  live->subscribers.clear();
  live->ended_signal.notify_all();
  auto recording = record_end(live->job);
  co_await std::move(recording);
  // Readers now find the committed job in the store.
  auto it = live_.find(live->job.jid);
  if (it != live_.end() && it->second == live) live_.erase(it);
}

// This server's runs of the job are over. Whichever part ends last (as the
// store sees it, once our results are durable) ends the job; two parts
// ending at once may both do, writing the same state.
awaitable<void> JobService::end_part(std::shared_ptr<LiveJob> live) {
  live->ended = true;
  live->ended_signal.notify_all();
  const std::string jid = live->job.jid;
  if (auto it = live_.find(jid); it != live_.end() && it->second == live) live_.erase(it);
  (void)co_await store_.flush();
  co_await end_if_finished(jid, cancel_reason(*live->cancel));
}

// Ends the stored job if it is Running with every run finished, in the
// state its stored results (and cancel request) make.
awaitable<void> JobService::end_if_finished(std::string jid, std::optional<std::string> reason) {
  auto stored = co_await store_.load_job(jid, store::OutputLimit{0});
  if (!stored || !stored->has_value()) co_return;
  Job job = std::move(**stored);
  if (job.state != JobState::Running || job.finished_count() != job.runs.size()) co_return;
  if (!reason) {
    auto requests = co_await store_.cancel_requests();
    if (requests) {
      for (const auto& request : *requests)
        if (request.jid == jid) reason = request.reason;
    }
  }
  settle_job_state(job, reason);
  auto recording = record_end(job);
  if (!co_await std::move(recording)) co_return;
  ++counters_.finished;
  ++counters_.finished_by_operation[{job.operate, job.state}];
}

// A store that is away (Redis down) gets the job's end once it is back,
// after the results held meanwhile; tried every kEndRetry until then.
awaitable<bool> JobService::record_end(Job job) {
  for (;;) {
    auto ended = co_await store_.finish_job(job);
    if (ended) co_return true;
    if (ended.error().code != ErrorCode::Unavailable || stopping_) {
      spdlog::error("job {}: could not record its end: {}", job.jid, ended.error().message);
      co_return false;
    }
    spdlog::warn("job {}: its end waits for the store: {}", job.jid, ended.error().message);
    co_await steward::sleep_for(scheduler_.clock(), kEndRetry);
  }
}

void JobService::publish(LiveJob& live, JobEvent event) {
  std::erase_if(live.subscribers, [](const auto& weak) { return weak.expired(); });
  for (auto& weak : live.subscribers) {
    if (auto subscriber = weak.lock()) subscriber->push(event);
  }
}

void JobService::skip_pending(LiveJob& live, const std::string& why) {
  for (auto& [name, run] : live.job.runs) {
    if (run.phase == RunPhase::Pending) skip_run(live, name, why);
  }
  live.rollout.waiting.clear();
}

awaitable<Status> JobService::recover() {
  auto taken = co_await store_.take_over(unix_now());
  if (!taken) co_return taken.error();
  auto lost = lost_runs(*taken);
  auto unfinished = co_await store_.unfinished_jobs();
  if (!unfinished) co_return unfinished.error();
  for (auto& job : *unfinished) {
    auto lost_here = std::move(lost[job.jid]);
    ++counters_.recovered;
    co_await resume(std::move(job), std::move(lost_here));
  }
  if (!unfinished->empty()) spdlog::info("recovered {} unfinished jobs", unfinished->size());
  co_return Status{};
}

awaitable<void> JobService::resume(Job job, std::map<std::string, std::string> lost) {
  std::vector<std::string> names;  // our unfinished runs not yet live, in the job's order (for its batches)
  for (const auto& name : job.targets) {
    const auto& run = job.runs.at(name);
    if (run.owner == lease_.server_id && run.phase != RunPhase::Finished) names.push_back(name);
  }
  std::shared_ptr<LiveJob> live;
  const bool joining = live_.contains(job.jid);
  if (joining) {  // runs a dead server had join our live part
    live = live_.at(job.jid);
    std::erase_if(names, [&](const auto& name) { return live->job.runs.contains(name); });
    if (names.empty()) co_return;
    live->whole = false;
    for (const auto& name : names) live->job.runs[name] = job.runs.at(name);
  } else {
    auto going = go_live(std::move(job));
    live = co_await std::move(going);
  }
  auto op = ops_.find(live->job.operate);
  std::map<std::string, std::vector<RunProcess>> recorded;
  if (auto processes = co_await store_.load_processes(live->job.jid); processes) {
    for (auto& [target, process] : *processes) recorded[target].push_back(std::move(process));
  } else {
    spdlog::error("job {}: cannot read its commands: {}", live->job.jid, processes.error().message);
  }
  std::vector<Target> to_run;
  std::map<std::string, std::vector<RunProcess>> orphans;
  for (const auto& name : names) {
    TargetRun& run = live->job.runs[name];
    const bool lost_with_its_server = run.phase == RunPhase::Running && lost.contains(name);
    if (run.phase == RunPhase::Running && recorded.contains(name) && !lost_with_its_server) {
      orphans[name] = std::move(recorded[name]);
      continue;
    }
    OpResult failure;
    Result<Target> target = resolver_(name);
    // Its commands ran under another server, which cannot be asked.
    if (lost_with_its_server) failure = failed_result("interrupted: server " + lost[name] + " lost");
    else if (run.phase == RunPhase::Running) failure = unrecorded_orphan_result();
    else if (!op) failure = failed_result("cannot run after restart: " + op.error().message);
    else if (!target) failure = failed_result("cannot run after restart: " + target.error().message);
    else {
      to_run.push_back(std::move(*target));
      continue;
    }
    live->finish(run);
    run.finishat = unix_now();
    run.result = std::move(failure);
    store_.save_result(live->job.jid, name, run);
  }
  if (op) {
    live->op = *op;
    live->batch = (*op)->batched(live->job.operate_args);
  }
  if (to_run.empty() && orphans.empty()) {
    if (live->running == 0 && live->all_finished()) co_await finalize(live);
    co_return;
  }
  // Settled off the start-up path: over ssh it may take a while.
  for (auto& [name, commands] : orphans) {
    // The next job of an exclusive operation waits until this one's command is stopped.
    if (live->exclusive()) lanes_.enter(live->job.operate, name, live->job.jid);
    ++live->running;
    boost::asio::co_spawn(executor_, settle_orphan(live, name, std::move(commands)),
                          log_failure("settling a command a crash left behind"));
  }
  for (const auto& target : to_run) {
    if (live->exclusive()) lanes_.enter(live->job.operate, target.name, live->job.jid);
  }
  if (joining) {
    for (const auto& target : to_run) admit(live, target);
    co_return;
  }
  start_rollout(live, std::move(to_run), orphans.size());
  if (live->all_finished()) co_await finalize(live);  // a threshold already passed skipped the rest
}

// A live job (or part) for a stored one, holding only this server's runs.
awaitable<std::shared_ptr<LiveJob>> JobService::go_live(Job job) {
  auto live = std::make_shared<LiveJob>();
  std::erase_if(job.runs, [&](const auto& entry) {
    if (entry.second.owner == lease_.server_id) return false;
    live->whole = false;
    return true;
  });
  live->job = std::move(job);
  live->count_finished();
  if (live->whole) {
    auto chunks = co_await store_.load_output(live->job.jid, 0);
    if (chunks && !chunks->empty()) live->next_seq = chunks->back().seq + 1;
  }
  live_[live->job.jid] = live;
  co_return live;
}

// Finds out what became of the commands a target was running when the
// server died, ends those still running, and finishes the target with it.
awaitable<void> JobService::settle_orphan(std::shared_ptr<LiveJob> live, std::string name,
                                          std::vector<RunProcess> commands) {
  std::vector<transport::OrphanOutcome> outcomes;
  auto target = orphan_target(resolver_, name, commands.back().transport);
  Result<std::shared_ptr<transport::Transport>> transport =
      target ? transports_.get(commands.back().transport) : Result<std::shared_ptr<transport::Transport>>(target.error());
  for (const auto& command : commands) {
    if (!transport) {
      outcomes.push_back({transport::OrphanOutcome::Kind::Unknown, -1, 0,
                          "cannot look for its command: " + transport.error().message});
      continue;
    }
    auto settling = (*transport)->settle_orphan(*target, command);
    auto outcome = co_await std::move(settling);
    outcomes.push_back(std::move(outcome));
  }
  OpResult result = orphan_result(commands, outcomes, live->op ? live->op->state_after_clean_exit() : std::nullopt);
  spdlog::info("job {}: {} was running when the server stopped: {}", live->job.jid, name,
               result.error.empty() ? "finished" : result.error);
  --live->running;
  const std::string jid = live->job.jid;
  co_await finish_target(live, name, std::move(result));
  auto forgotten = co_await store_.forget_processes(jid, name);
  if (!forgotten) spdlog::error("job {}: could not forget the commands of {}: {}", jid, name, forgotten.error().message);
}

awaitable<void> JobService::prune_periodically(std::chrono::seconds retention, std::chrono::seconds period) {
  boost::asio::steady_timer timer(executor_);
  while (!stopping_) {
    auto pruned = co_await store_.prune(unix_now() - static_cast<double>(retention.count()));
    if (!pruned) spdlog::warn("pruning old jobs failed: {}", pruned.error().message);
    else if (*pruned > 0) spdlog::info("pruned {} jobs older than {} s", *pruned, retention.count());
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) break;
  }
}

awaitable<void> JobService::shutdown(std::chrono::milliseconds grace) {
  stopping_ = true;
  scheduler_.stop();
  for (auto& [jid, live] : live_) release_waiting(*live);  // their targets stay pending for the next start
  boost::asio::steady_timer poll(executor_);
  auto wait_idle = [&](std::chrono::steady_clock::time_point until) -> awaitable<void> {
    while (running_targets() > 0 && std::chrono::steady_clock::now() < until) {
      poll.expires_after(std::chrono::milliseconds(20));
      co_await poll.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
  };
  co_await wait_idle(std::chrono::steady_clock::now() + grace);
  if (running_targets() > 0) {
    spdlog::warn("grace period over: cancelling {} running operations", running_targets());
    for (auto& [jid, live] : live_) {
      if (live->running > 0) live->cancel->cancel("server shutting down");
    }
    co_await wait_idle(std::chrono::steady_clock::now() + kAfterCancelWait);
  }
  (void)co_await store_.flush();
}

}  // namespace steward::jobs
