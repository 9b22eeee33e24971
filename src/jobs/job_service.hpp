#pragma once
// Jobs from acceptance to their end: records them durably, runs one work
// item per target on the scheduler, keeps live state for readers, streams
// events, cancels, repairs what a restart interrupted, and drains at shutdown.
// Loop-thread only.
//
// Two kinds of operation get more (ops/operation.hpp):
// - exclusive per host (deploy, tasks): a job whose hosts already have one in
//   line is refused with Conflict, unless its arguments hold "queue": true;
//   then it takes its turn on each host after the jobs before it (HostLanes);
// - batched (deploy with playbooks): each target's work item, once started
//   (holding the target's slot), waits for the job's other targets; one run
//   covers all of them once every pending target has joined, or those that
//   have joined when every running work item is such a waiter (the scheduler
//   is saturated, so no one else can join). Each result finishes its target
//   as soon as the run reports it.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "jobs/host_lanes.hpp"
#include "jobs/subscription.hpp"

namespace steward {
class ArgSecrets;
namespace sched { class Scheduler; }
namespace store {
class Store;
struct TakenRun;
}  // namespace store
namespace transport { class TransportRegistry; }
namespace ops { class OpRegistry; }
}  // namespace steward

namespace steward::jobs {

struct LiveJob;
struct BatchMember;
class RunJournal;

// Turns a host name into a Target (the inventory's view); used again after a restart.
using TargetResolver = std::function<Result<Target>(const std::string& name)>;

struct JobRequest {
  std::string operate;
  boost::json::object args;
  std::vector<Target> targets;
};

// This server's lease on the work it owns (README "Servers and leases").
struct LeaseOptions {
  std::string server_id;
  double ttl_seconds = 10;  // others take the work over this long after the last renewal
};

struct JobCounters {
  std::uint64_t accepted = 0;
  std::uint64_t finished = 0;
  std::uint64_t recovered = 0;
  std::map<std::string, std::uint64_t> accepted_by_operation;
  std::map<std::pair<std::string, JobState>, std::uint64_t> finished_by_operation;  // (operation, state)
};

class JobService {
 public:
  // `secrets`: when set, secret argument values (core/secret_args.hpp) are
  // sealed before the job is stored or kept, and opened only to run it.
  JobService(boost::asio::any_io_executor executor, store::Store& store, sched::Scheduler& scheduler,
             const transport::TransportRegistry& transports, const ops::OpRegistry& ops,
             TargetResolver resolver, const ArgSecrets* secrets = nullptr);
  ~JobService();

  // InvalidArgument naming the bad field, or NotFound for an unknown operation.
  // Exclusive operations also take "queue" (a boolean).
  Status validate(const std::string& operate, const boost::json::object& args) const;

  // The jid, once the job is durable. Unavailable while shutting down;
  // Conflict naming the hosts when an exclusive operation already has a job
  // in line there and the request does not ask to queue.
  boost::asio::awaitable<Result<std::string>> submit(JobRequest request);

  // Runs carry as much output as `output` says (store::OutputLimit).
  boost::asio::awaitable<Result<Job>> get(const std::string& jid, store::OutputLimit output = {});
  // Newest first (store::Store::list_jobs); live jobs as they are now.
  boost::asio::awaitable<Result<std::vector<Job>>> list(store::JobPage page, store::OutputLimit output);
  // A slice of a target's finished stdout or stderr (store::Store::read_output);
  // NotFound naming the job or the target.
  boost::asio::awaitable<Result<store::OutputPage>> read_output(const std::string& jid, const std::string& target,
                                                                store::OutputStream stream, std::uint64_t offset,
                                                                std::size_t limit);
  boost::asio::awaitable<Result<std::vector<std::string>>> list_ids(store::JobPage page);

  // The finished job, or Timeout (the job goes on) when the deadline passes first.
  boost::asio::awaitable<Result<Job>> wait(const std::string& jid,
                                           std::chrono::steady_clock::time_point deadline);

  // Ends the job: running targets are stopped (their processes killed),
  // pending ones skipped. Returns the job once it has ended. A job another
  // server runs is asked to end through the store.
  boost::asio::awaitable<Result<Job>> cancel(const std::string& jid, const std::string& reason);

  // Cancels if running, then deletes. NotFound when unknown.
  boost::asio::awaitable<Status> remove(const std::string& jid);

  // Events of one job; a finished job's history is replayed from the store.
  boost::asio::awaitable<Result<std::shared_ptr<Subscription>>> subscribe(const std::string& jid,
                                                                          bool with_output);

  // Takes this server's lease with a new epoch, so an earlier life of it can
  // no longer write its runs. Before recover().
  boost::asio::awaitable<Status> take_lease(const LeaseOptions& options);

  // At start-up: takes over the unfinished runs of this server's earlier
  // lives and of servers whose lease expired. Targets that were running are
  // settled from what became of their recorded commands (README "After a
  // crash"; in the background, the job stays Running until then), or failed
  // as interrupted when another server ran them; targets that never started
  // are run.
  boost::asio::awaitable<Status> recover();

  // One round of lease keeping at `now` (Unix seconds): renews the lease
  // (when another server took it over, drops the work it held and takes a
  // new one) and takes over the work of servers whose lease expired.
  boost::asio::awaitable<void> keep_lease_once(double now);
  // Until shutdown: the lease renewed every third of the lease time, expired
  // servers' work taken over as often, and the work other servers placed
  // here and the cancel requests made on them acted on as the store tells
  // of them, or every `store_poll` with a store that does not tell.
  boost::asio::awaitable<void> keep_lease(std::chrono::milliseconds store_poll);
  // After shutdown(): lets other servers take what is left pending at once.
  boost::asio::awaitable<void> release_lease();
  // Makes live here what other servers placed with this one (Store::take_inbox).
  boost::asio::awaitable<void> take_inbox_once();
  // Cancels the live jobs someone asked the store to cancel.
  boost::asio::awaitable<void> act_on_cancel_requests();

  // Deletes finished jobs older than `retention`, every `period`, until shutdown.
  boost::asio::awaitable<void> prune_periodically(std::chrono::seconds retention, std::chrono::seconds period);

  // Stops starting work, lets running targets finish for up to `grace`, then
  // cancels them, recording why. Targets not yet started stay pending in the
  // store and run after the next start.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

  std::size_t live_jobs() const { return live_.size(); }
  // This server's id on the store ("" before take_lease).
  const std::string& server_id() const { return lease_.server_id; }
  // A job that is not live has either finished (what the store holds of it
  // no longer changes until it is deleted) or is stored as Running, waiting
  // for recover() to repair it.
  bool is_live(const std::string& jid) const { return live_.count(jid) > 0; }
  std::size_t running_targets() const;
  const JobCounters& counters() const { return counters_; }
  // Told of every target run this server finishes, as it finishes (the
  // targets' reachability, inventory/target_health.hpp).
  using RunObserver = std::function<void(const std::string& target, const TargetRun& run)>;
  void observe_runs(RunObserver observer) { run_observer_ = std::move(observer); }

 private:
  boost::asio::awaitable<void> renew_lease_once(double now);
  boost::asio::awaitable<void> take_over_once(double now);
  boost::asio::awaitable<void> renew_lease_periodically(std::chrono::steady_clock::duration every);
  boost::asio::awaitable<void> poll_store_periodically(std::chrono::steady_clock::duration take_over_every,
                                                       std::chrono::milliseconds poll);
  // Stores a new job: whole on this server, or each run with its target's
  // owner. Each run's owner, in job.targets order.
  boost::asio::awaitable<Result<std::vector<std::string>>> place(const Job& job, bool whole);
  std::vector<Target> keep_own_runs(LiveJob& live, std::vector<Target> targets, const std::vector<std::string>& owners);
  // The live job when this server owns all of it, else null: a part is read through the store.
  std::shared_ptr<LiveJob> whole_live(const std::string& jid) const;
  // Lets the targets in: all at once, or batch by batch (jobs/rollout.hpp).
  // `running`: targets of the job already running (after a restart), the
  // batch in progress.
  void start_rollout(const std::shared_ptr<LiveJob>& live, std::vector<Target> targets, std::size_t running = 0);
  void let_next_batch_in(const std::shared_ptr<LiveJob>& live);
  void admit_next_batch(const std::shared_ptr<LiveJob>& live);
  // A target let in has finished: counts its failure, and past the batch's
  // end lets the next batch in or skips the rest.
  void advance_rollout(const std::shared_ptr<LiveJob>& live, const TargetRun& run);
  void skip_run(LiveJob& live, const std::string& name, const std::string& why);
  void admit(const std::shared_ptr<LiveJob>& live, const Target& target);
  void enqueue(const std::shared_ptr<LiveJob>& live, const Target& target, std::chrono::nanoseconds waited = {});
  void leave_lane(const std::string& operate, const std::string& jid, const std::string& target);
  void mark_running(LiveJob& live, const std::string& target, std::chrono::nanoseconds queue_wait);
  boost::asio::awaitable<bool> record_start(LiveJob& live, const std::string& target);
  boost::asio::awaitable<void> run_target(std::shared_ptr<LiveJob> live, Target target,
                                          std::chrono::nanoseconds queue_wait);
  boost::asio::awaitable<void> run_in_batch(std::shared_ptr<LiveJob> live, Target target,
                                            std::chrono::nanoseconds queue_wait);
  void flush_if_complete(const std::shared_ptr<LiveJob>& live);
  void flush_if_stalled();
  void flush(const std::shared_ptr<LiveJob>& live);
  boost::asio::awaitable<void> run_batch(std::shared_ptr<LiveJob> live,
                                         std::vector<std::shared_ptr<BatchMember>> members);
  void release_waiting(LiveJob& live);
  // `settle` false: the caller leaves the host's lane and ends the job later
  // itself (a batch member, once the shared run is over).
  boost::asio::awaitable<void> finish_target(std::shared_ptr<LiveJob> live, const std::string& target,
                                             OpResult result, bool settle = true);
  boost::asio::awaitable<void> finalize(std::shared_ptr<LiveJob> live);
  boost::asio::awaitable<void> end_part(std::shared_ptr<LiveJob> live);
  boost::asio::awaitable<void> end_if_finished(std::string jid, std::optional<std::string> cancel_reason);
  boost::asio::awaitable<void> end_unended_jobs(double now);
  // Writes the job's end, waiting for a store that is away; false when it could not.
  boost::asio::awaitable<bool> record_end(Job job);
  boost::asio::awaitable<std::shared_ptr<LiveJob>> go_live(Job job);
  // Makes this server's unfinished runs of a stored job live: a new live job
  // or part, or joining the part already live here.
  // `lost`: targets taken over from a server that died, by that server's id.
  boost::asio::awaitable<void> resume(Job job, std::map<std::string, std::string> lost);
  // jid -> target -> the dead server it was taken from (runs of our own earlier lives are not lost).
  using LostRuns = std::map<std::string, std::map<std::string, std::string>>;
  static LostRuns lost_runs(const std::vector<store::TakenRun>& taken);
  boost::asio::awaitable<void> resume_taken(const std::vector<store::TakenRun>& taken);
  void cancel_live(const std::shared_ptr<LiveJob>& live, const std::string& reason);
  boost::asio::awaitable<void> end_if_idle(std::shared_ptr<LiveJob> live);
  void abandon_live_work(const std::string& why);
  boost::asio::awaitable<Result<Job>> wait_stored(const std::string& jid,
                                                  std::chrono::steady_clock::time_point deadline);
  boost::asio::awaitable<void> follow_stored(std::string jid, std::weak_ptr<Subscription> reader,
                                            std::uint64_t after_seq = 0);
  boost::asio::awaitable<void> settle_orphan(std::shared_ptr<LiveJob> live, std::string name,
                                             std::vector<RunProcess> commands);
  boost::asio::awaitable<void> forget_commands(std::string jid, Target target, const RunJournal& journal);
  void publish(LiveJob& live, JobEvent event);
  // The job's arguments with their secrets opened, to run it.
  Result<boost::json::object> plain_args(const Job& job) const;
  void skip_pending(LiveJob& live, const std::string& why);
  boost::asio::awaitable<void> replay_live(LiveJob& live, Subscription& subscription);
  boost::asio::awaitable<Result<std::shared_ptr<Subscription>>> replay_stored(const std::string& jid,
                                                                               bool with_output);

  boost::asio::any_io_executor executor_;
  store::Store& store_;
  sched::Scheduler& scheduler_;
  const transport::TransportRegistry& transports_;
  const ops::OpRegistry& ops_;
  TargetResolver resolver_;
  const ArgSecrets* secrets_;
  std::map<std::string, std::shared_ptr<LiveJob>> live_;
  HostLanes lanes_;
  std::size_t batch_waiters_ = 0;  // batch members of every job not yet running
  JobCounters counters_;
  bool stopping_ = false;
  LeaseOptions lease_;
  RunObserver run_observer_;
};

}  // namespace steward::jobs
