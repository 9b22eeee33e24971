#pragma once
// What the job service keeps in memory for a job that has not ended.
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/cancel.hpp"
#include "core/model.hpp"
#include "core/signal.hpp"
#include "jobs/rollout.hpp"
#include "jobs/subscription.hpp"
#include "ops/operation.hpp"

namespace steward::jobs {

// A target of a batched job that the scheduler started (it holds the target's
// slot) and that waits for, then takes part in, one run with its job's other targets.
struct BatchMember {
  enum class State { Waiting, Running, Done, Released };
  Target target;
  std::chrono::nanoseconds queue_wait{0};
  State state = State::Waiting;
  OpResult result;         // when Done
  bool run_over = false;   // the shared run (the process) has ended
  Signal wake;             // on Done, Released, or the run's end
};

// A target of an exclusive operation waiting for its turn on the host (HostLanes).
struct DeferredTarget {
  Target target;
  std::chrono::steady_clock::time_point since;
};

// Rolling batches (jobs/rollout.hpp): the targets not yet let in, in the
// job's order, and how the batch let in last is doing.
struct RolloutState {
  Rollout sizes;
  std::deque<Target> waiting;
  std::size_t open = 0;  // targets let in that have not finished
  std::size_t failures = 0;
  bool active() const { return sizes.batch > 0 || sizes.max_failures.has_value(); }
};

struct LiveJob {
  // A part (not whole) holds only this server's runs in job.runs; other
  // servers run the rest, and the store holds the job as a whole.
  Job job;
  bool whole = true;
  const ops::Operation* op = nullptr;
  const ops::BatchRunner* batch = nullptr;  // set when the operation runs once for many targets
  CancelToken cancel = make_cancel_token();
  std::uint64_t next_seq = 1;  // of output chunks
  std::size_t running = 0;     // targets running now
  bool ended = false;
  Signal ended_signal;
  std::vector<std::weak_ptr<Subscription>> subscribers;
  std::vector<std::shared_ptr<BatchMember>> waiting;  // batch members not yet running
  std::map<std::string, DeferredTarget> deferred;      // by target name
  RolloutState rollout;

  bool exclusive() const { return op && op->exclusive_per_host(); }
  // Every run that ends goes through here, so the job's end is known
  // without scanning its runs once per target (10,000 targets: 10^8 steps).
  void finish(TargetRun& run) {
    if (run.phase != RunPhase::Finished) ++finished_runs_;
    run.phase = RunPhase::Finished;
  }
  bool all_finished() const { return finished_runs_ == job.runs.size(); }
  // Once, when the job goes live (a resumed job has finished runs already).
  void count_finished() { finished_runs_ = job.finished_count(); }

 private:
  std::size_t finished_runs_ = 0;
};

}  // namespace steward::jobs
