#pragma once
// Where jobs live. One implementation per folder (sqlite/, redis/), chosen by
// the --store URL scheme in registry.cpp.
//
// Contract for every implementation:
// - Methods are called on the server's event loop and must not block it;
//   awaitables complete on the caller's executor.
// - Writes apply in the order they were called.
// - create_job() completes only once the job is durable: a server killed
//   right after must find it on restart.
// - The fire-and-forget writes (progress and output) are durable no later
//   than the next awaited write completes; their failures are logged.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "core/model.hpp"
#include "core/result.hpp"

namespace steward::store {

enum class OutputStream { Stdout = 1, Stderr = 2 };

struct OutputChunk {
  // Per job, from 1, in arrival order. A chunk written with 0 is numbered
  // by the store, after every chunk of the job stored before it (parts of
  // a job on several servers).
  std::uint64_t seq = 0;
  std::string target;
  OutputStream stream = OutputStream::Stdout;
  std::string data;
  double at = 0;
};

// One value a condition produced; `at` in Unix seconds.
struct ConditionValue {
  double at = 0;
  double value = 0;
};

// A slice of the job list, newest (latest start) first.
struct JobPage {
  std::size_t offset = 0;
  std::optional<std::size_t> limit;  // every job from `offset` on when unset
};

// How much of each run's stdout and stderr a read carries: the last `tail`
// bytes of each stream (none with 0). A run whose stream is longer than what
// was read says so in OpResult::stdout_size / stderr_size.
struct OutputLimit {
  static constexpr std::size_t kAll = std::numeric_limits<std::size_t>::max();
  std::size_t tail = kAll;
};

// A slice of one target's stored stdout or stderr.
struct OutputPage {
  std::string data;
  std::uint64_t total = 0;  // the stream's stored size in bytes
  bool finished = false;    // the target has finished, so the stream is complete
};

// The lease a server holds on the work it owns (README "Servers and
// leases"). Every target run records its owner and the owner's epoch; a run
// write made under an epoch that no longer owns the run is refused, so a
// server whose work was taken over cannot start, settle or finish it.
struct Lease {
  std::string server;
  std::uint64_t epoch = 0;
};

// An unfinished run that became ours. From take_over(): `from` is the
// server whose lease had expired, or empty for an earlier life of our own
// server. From take_inbox(): the same for a run another server took over and
// placed with us, or an empty `target` for a new job with runs placed with us.
struct TakenRun {
  std::string jid;
  std::string target;
  std::string from;
};

// What Store::wait_for_news() ended with.
enum class News {
  Told,       // take_inbox() or cancel_requests() may have something new
  TimedOut,   // nothing within the time given
  NotPushed,  // this store does not tell: its caller polls
};

// A running job someone asked to cancel, on any server.
struct CancelRequest {
  std::string jid;
  std::string reason;
};

// A named API token as stored: its SHA-256, never the token itself.
struct StoredToken {
  std::string name;
  std::string role;      // "read", "operate" or "admin"
  std::string hash;      // lower-case hex SHA-256 of the token
  double created = 0;    // Unix seconds
  double last_used = 0;  // Unix seconds; 0 when never used
};

// One state-changing API request, for the audit trail (README "Audit
// trail"). Never a request body: only what is named here.
struct AuditEntry {
  double at = 0;               // Unix seconds
  std::string who;             // token name, client certificate subject, or "anonymous"
  std::string peer;            // the client's address
  std::string api;             // "rest" or "grpc"
  std::string action;          // "POST /execute" (the route pattern) or "/FeatureService/create"
  std::string path;            // the concrete path ("/jobs/0190..."); empty for gRPC
  std::vector<std::string> targets;
  std::string subject;         // the job id or identifier created or touched, when known
  int status = 0;              // HTTP status or gRPC status code
  std::string error;           // the error message on failure
};

// Which entries list_audit returns: every set field must match (`target`:
// one of the entry's targets); `since`/`until` bound `at`, inclusive.
struct AuditFilter {
  std::optional<std::string> who = {};
  std::optional<std::string> target = {};
  std::optional<std::string> action = {};
  std::optional<double> since = {};
  std::optional<double> until = {};
  std::size_t limit = 100;
};

class Store {
 public:
  virtual ~Store() = default;

  // Job with every target Pending, owned by this store's lease.
  virtual boost::asio::awaitable<Status> create_job(const Job& job) = 0;
  // Job with every target Pending, each run owned by the server that owns
  // its target (README "Servers and leases"): the owner of the target's
  // unfinished runs if it has any, so that no target runs two servers' work
  // at once; else the live server the target's slot hashes to
  // (store/placement.hpp). Live: leases unexpired at job.startat, and ours.
  // Runs placed with another server are announced in its inbox. Returns each
  // run's owner, in job.targets order.
  virtual boost::asio::awaitable<Result<std::vector<std::string>>> create_job_by_target(const Job& job) = 0;
  // What other servers placed with this server since the last call (see
  // TakenRun), oldest first; each entry is returned once.
  virtual boost::asio::awaitable<Result<std::vector<TakenRun>>> take_inbox() = 0;
  // Durable on completion, so a restart never runs a target twice. This and
  // the other run writes (save_result, append_output, record_process) are
  // refused (Conflict; logged for the fire-and-forget ones) when this
  // store's lease no longer owns the run.
  virtual boost::asio::awaitable<Status> mark_started(const std::string& jid, const std::string& target,
                                                     const TargetRun& run) = 0;
  virtual void save_result(const std::string& jid, const std::string& target, const TargetRun& run) = 0;
  virtual void append_output(const std::string& jid, const OutputChunk& chunk) = 0;
  // A command a running target started: durable on completion, so the
  // command may start once it completes. Kept until forget_processes.
  virtual boost::asio::awaitable<Status> record_process(const std::string& jid, const std::string& target,
                                                        const RunProcess& process) = 0;
  // Durable on completion, and after every write called before it (the
  // target's result): a restart then no longer looks at these commands.
  virtual boost::asio::awaitable<Status> forget_processes(const std::string& jid, const std::string& target) = 0;
  // The recorded commands of a job's targets, in the order they started.
  virtual boost::asio::awaitable<Result<std::vector<std::pair<std::string, RunProcess>>>> load_processes(
      const std::string& jid) = 0;
  // Writes the job's state, error and finish time.
  virtual boost::asio::awaitable<Status> finish_job(const Job& job) = 0;

  // Nullopt when unknown. Output chunks are not part of a Job; runs carry
  // as much of their stdout and stderr as `output` says.
  virtual boost::asio::awaitable<Result<std::optional<Job>>> load_job(const std::string& jid,
                                                                     OutputLimit output) = 0;
  // Jobs with their runs, ordered by start time (then jid), newest first:
  // never by comparing ids, whose format changed. Runs carry as much of
  // their stdout and stderr as `output` says, so a long listing stays light.
  virtual boost::asio::awaitable<Result<std::vector<Job>>> list_jobs(JobPage page, OutputLimit output) = 0;
  // The same order, ids only: reads no runs.
  virtual boost::asio::awaitable<Result<std::vector<std::string>>> list_job_ids(JobPage page) = 0;
  virtual boost::asio::awaitable<Result<std::vector<OutputChunk>>> load_output(const std::string& jid,
                                                                               std::uint64_t after_seq) = 0;
  // Up to `limit` bytes of a target's finished stdout or stderr from byte
  // `offset` on, read without loading the rest; a running target's stream is
  // empty until it finishes. Nullopt when the job or the target is unknown.
  virtual boost::asio::awaitable<Result<std::optional<OutputPage>>> read_output(const std::string& jid,
                                                                              const std::string& target,
                                                                              OutputStream stream,
                                                                              std::uint64_t offset,
                                                                              std::size_t limit) = 0;
  // False when unknown.
  virtual boost::asio::awaitable<Result<bool>> delete_job(const std::string& jid) = 0;
  // Jobs whose state is Running and that have an unfinished run this
  // store's lease owns, with all their runs: what a restart must repair.
  virtual boost::asio::awaitable<Result<std::vector<Job>>> unfinished_jobs() = 0;
  // Running jobs whose every run finished before `before` (Unix seconds):
  // the server that stored the last result died before it ended the job.
  // Any server may end them; ending one twice writes the same state.
  virtual boost::asio::awaitable<Result<std::vector<std::string>>> unended_jobs(double before) = 0;

  // Takes `server`'s lease until now + ttl (Unix seconds) with a new epoch,
  // so whatever an earlier life of that server still writes is refused; this
  // store object then writes as that lease. Until it is called the store
  // writes as the anonymous lease {"", 0}, which also owns runs stored
  // before leases existed.
  virtual boost::asio::awaitable<Result<Lease>> acquire_lease(const std::string& server, double now,
                                                              double ttl) = 0;
  // Extends the lease; Conflict when another server has taken it over.
  virtual boost::asio::awaitable<Status> renew_lease(double now, double ttl) = 0;
  // Lets other servers take this lease's unfinished runs over at once.
  virtual boost::asio::awaitable<Status> release_lease() = 0;
  // Hands the unfinished runs of servers whose lease expired before `now`
  // to the live owners of their targets' slots (their epoch moves on, so
  // their writes are refused from then on), announcing those placed with
  // other servers in their inbox. Returns the runs that became ours: our
  // share of theirs, and those of earlier lives of our own server.
  virtual boost::asio::awaitable<Result<std::vector<TakenRun>>> take_over(double now) = 0;
  // Servers whose lease has not expired at `now`, and ours; ordered by id.
  virtual boost::asio::awaitable<Result<std::vector<std::string>>> live_servers(double now) = 0;
  // Asks whichever server owns a running job to cancel it; false when the
  // job is unknown or no longer running.
  virtual boost::asio::awaitable<Result<bool>> request_cancel(const std::string& jid, const std::string& reason) = 0;
  // Running jobs with a cancel request, oldest first.
  virtual boost::asio::awaitable<Result<std::vector<CancelRequest>>> cancel_requests() = 0;
  // Waits until another server placed work with this one, handed it runs
  // or asked for a cancel, or until `at_most` passed. News that came while
  // nobody waited is kept for the next wait.
  virtual boost::asio::awaitable<News> wait_for_news(std::chrono::milliseconds at_most) = 0;
  // Deletes finished jobs that finished before `finished_before` (Unix seconds); returns how many.
  virtual boost::asio::awaitable<Result<std::size_t>> prune(double finished_before) = 0;

  // Deputy state as JSON documents by kind and id: what a feature or inject
  // installed ("deployment"), conditions ("condition"). put replaces.
  virtual boost::asio::awaitable<Status> put_record(const std::string& kind, const std::string& id,
                                                    const boost::json::object& record) = 0;
  virtual boost::asio::awaitable<Result<std::optional<boost::json::object>>> get_record(const std::string& kind,
                                                                                       const std::string& id) = 0;
  // In the order they were first put.
  virtual boost::asio::awaitable<Result<std::vector<boost::json::object>>> list_records(const std::string& kind) = 0;
  // False when unknown.
  virtual boost::asio::awaitable<Result<bool>> delete_record(const std::string& kind, const std::string& id) = 0;

  // Fire-and-forget, like append_output.
  virtual void append_condition_value(const std::string& condition, const ConditionValue& value) = 0;
  // The newest `limit` values, oldest first.
  virtual boost::asio::awaitable<Result<std::vector<ConditionValue>>> load_condition_values(
      const std::string& condition, std::size_t limit) = 0;
  // Deletes values recorded before `before` (Unix seconds); returns how many.
  virtual boost::asio::awaitable<Result<std::size_t>> prune_condition_values(double before) = 0;

  // Named API tokens. add_token: Conflict when the name is taken.
  virtual boost::asio::awaitable<Status> add_token(const StoredToken& token) = 0;
  // Ordered by name.
  virtual boost::asio::awaitable<Result<std::vector<StoredToken>>> list_tokens() = 0;
  // False when unknown.
  virtual boost::asio::awaitable<Result<bool>> delete_token(const std::string& name) = 0;
  // Fire-and-forget, like append_output; an unknown name is ignored.
  virtual void note_token_used(const std::string& name, double at) = 0;

  // Fire-and-forget, like append_output.
  virtual void append_audit(const AuditEntry& entry) = 0;
  // Matching entries, newest first (ties: the later appended first), at most filter.limit.
  virtual boost::asio::awaitable<Result<std::vector<AuditEntry>>> list_audit(AuditFilter filter) = 0;
  // Deletes up to `at_most` of the entries recorded before `before` (Unix
  // seconds), oldest first; returns how many. Callers go on while it
  // returns `at_most`, so no one call holds the store long.
  virtual boost::asio::awaitable<Result<std::size_t>> prune_audit(double before, std::size_t at_most) = 0;

  // Completes when every write called before it is durable.
  virtual boost::asio::awaitable<Status> flush() = 0;
};

class StoreMetrics;

struct StoreOptions {
  std::string url;       // sqlite:PATH, redis://HOST:PORT/DB or unix:///path/redis.sock
  std::string data_dir;  // default location for file-backed stores
  // The server's event loop, which a network store (Redis) runs on; destroy
  // the store before the loop's io_context. Unused by SQLite.
  boost::asio::any_io_executor executor = {};
  // Non-null: the store's awaited writes are timed into it (store_metrics.hpp).
  StoreMetrics* metrics = nullptr;
};

// InvalidArgument naming the supported schemes for an unknown URL.
Result<std::unique_ptr<Store>> open_store(const StoreOptions& options);

}  // namespace steward::store
