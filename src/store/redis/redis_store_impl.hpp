#pragma once
// The Redis store's class, its methods spread over redis_store.cpp (jobs and
// runs), redis_leases.cpp (leases, take-over, cancel, commands) and
// redis_records.cpp (records, condition values, tokens).
#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <optional>

#include "store/redis/redis_connection.hpp"
#include "store/redis/redis_held.hpp"
#include "store/redis/redis_news.hpp"
#include "store/redis/redis_placement.hpp"
#include "store/redis/redis_scripts.hpp"
#include "store/store.hpp"

namespace steward::store::redis {

using boost::asio::awaitable;

class RedisStore final : public Store {
 public:
  RedisStore(boost::asio::any_io_executor executor, Endpoint endpoint);

  awaitable<Status> create_job(const Job& job) override;
  awaitable<Result<std::vector<std::string>>> create_job_by_target(const Job& job) override;
  awaitable<Result<std::vector<TakenRun>>> take_inbox() override;
  awaitable<Result<std::vector<std::string>>> live_servers(double now) override;
  awaitable<Status> mark_started(const std::string& jid, const std::string& target, const TargetRun& run) override;
  void save_result(const std::string& jid, const std::string& target, const TargetRun& run) override;
  void append_output(const std::string& jid, const OutputChunk& chunk) override;
  awaitable<Status> record_process(const std::string& jid, const std::string& target,
                                   const RunProcess& process) override;
  awaitable<Status> forget_processes(const std::string& jid, const std::string& target) override;
  awaitable<Result<std::vector<std::pair<std::string, RunProcess>>>> load_processes(const std::string& jid) override;
  awaitable<Status> finish_job(const Job& job) override;
  awaitable<Result<std::optional<Job>>> load_job(const std::string& jid, OutputLimit output) override;
  awaitable<Result<std::vector<Job>>> list_jobs(JobPage page, OutputLimit output) override;
  awaitable<Result<std::vector<std::string>>> list_job_ids(JobPage page) override;
  awaitable<Result<std::vector<OutputChunk>>> load_output(const std::string& jid, std::uint64_t after_seq) override;
  awaitable<Result<std::optional<OutputPage>>> read_output(const std::string& jid, const std::string& target,
                                                          OutputStream stream, std::uint64_t offset,
                                                          std::size_t limit) override;
  awaitable<Result<bool>> delete_job(const std::string& jid) override;
  awaitable<Result<std::vector<Job>>> unfinished_jobs() override;
  awaitable<Result<std::vector<std::string>>> unended_jobs(double before) override;
  awaitable<Result<Lease>> acquire_lease(const std::string& server, double now, double ttl) override;
  awaitable<Status> renew_lease(double now, double ttl) override;
  awaitable<Status> release_lease() override;
  awaitable<Result<std::vector<TakenRun>>> take_over(double now) override;
  awaitable<Result<bool>> request_cancel(const std::string& jid, const std::string& reason) override;
  awaitable<Result<std::vector<CancelRequest>>> cancel_requests() override;
  awaitable<News> wait_for_news(std::chrono::milliseconds at_most) override;
  awaitable<Result<std::size_t>> prune(double finished_before) override;
  awaitable<Status> put_record(const std::string& kind, const std::string& id,
                               const boost::json::object& record) override;
  awaitable<Result<std::optional<boost::json::object>>> get_record(const std::string& kind,
                                                                    const std::string& id) override;
  awaitable<Result<std::vector<boost::json::object>>> list_records(const std::string& kind) override;
  awaitable<Result<bool>> delete_record(const std::string& kind, const std::string& id) override;
  void append_condition_value(const std::string& condition, const ConditionValue& value) override;
  awaitable<Result<std::vector<ConditionValue>>> load_condition_values(const std::string& condition,
                                                                       std::size_t limit) override;
  awaitable<Result<std::size_t>> prune_condition_values(double before) override;
  awaitable<Status> add_token(const StoredToken& token) override;
  awaitable<Result<std::vector<StoredToken>>> list_tokens() override;
  awaitable<Result<bool>> delete_token(const std::string& name) override;
  void note_token_used(const std::string& name, double at) override;
  void append_audit(const AuditEntry& entry) override;  // redis_audit.cpp
  awaitable<Result<std::vector<AuditEntry>>> list_audit(AuditFilter filter) override;
  awaitable<Result<std::size_t>> prune_audit(double before, std::size_t at_most) override;  // redis_audit.cpp
  awaitable<Status> flush() override;

 private:
  // Jobs by id with their runs, in the given order; ids no longer stored are left out.
  awaitable<Result<std::vector<Job>>> load_jobs(const std::vector<std::string>& ids, OutputLimit output);
  // A fenced write that nobody awaits: a refusal or failure is logged; one
  // that failed because Redis was away is held (redis_held.hpp).
  void write_detached(Script script, std::vector<std::string> args, const std::string& jid,
                      const std::string& target);
  // Writes what is held, in order; Unavailable while Redis is still away.
  // Before every write that must come after them.
  awaitable<Status> write_held();
  // The ARGV that names a run and the lease writing it: jid, target, owner, epoch.
  std::vector<std::string> fenced_args(const std::string& jid, const std::string& target) const;
  // The servers live at `at` as P lease-expires has them now, with `self`.
  awaitable<Result<LiveServers>> read_live_servers(const std::string& self, double at);

  Lease lease_;  // loop thread only; each write takes a copy
  // Shared with the replies of detached writes, which may come after the store is gone.
  std::shared_ptr<HeldWrites> held_ = std::make_shared<HeldWrites>();
  // The last read of the live servers, which placing a job tries first: the
  // script refuses it if they changed since (redis_placement.hpp).
  std::optional<LiveServers> live_;

  std::string prefix_;
  Endpoint endpoint_;  // for the news listener's own connection
  RedisConnection connection_;
  Scripts scripts_;
  // Opened by the first wait_for_news, once the lease names the server.
  std::unique_ptr<NewsListener> news_;
};

// ARGV of Script::CreateJob: each run placed by `live`, or ours when it is null.
std::vector<std::string> create_job_args(const Job& job, const Lease& lease, const LiveServers* live);
Error job_exists(const std::string& jid);

// Reply helpers shared by the three files.
Result<std::int64_t> integer_of(const Result<Reply>& reply);
Result<std::vector<Reply>> array_of(Result<Reply> reply);
// An array of strings (ids): each element's text.
Result<std::vector<std::string>> strings_of(Result<Reply> reply);
// Conflict for a fenced write the script refused.
Error lease_lost(const std::string& jid, const std::string& target);
// Logs a fire-and-forget write's failure.
void log_failure(const Status& status);

}  // namespace steward::store::redis
