// Leases, take-over, cancel requests and recorded commands (README "Servers
// and leases"); the atomic parts are the Lua scripts in redis_scripts.cpp.
#include <algorithm>

#include "store/redis/redis_codec.hpp"
#include "store/redis/redis_store_impl.hpp"

namespace steward::store::redis {

awaitable<Status> RedisStore::record_process(const std::string& jid, const std::string& target,
                                             const RunProcess& process) {
  auto args = fenced_args(jid, target);
  args.push_back(process_field(target, process));
  args.push_back(process_value(process));
  auto recording = scripts_.eval(Script::RecordProcess, std::move(args));
  auto reply = co_await std::move(recording);
  auto recorded = integer_of(reply);
  if (!recorded) co_return recorded.error();
  if (*recorded == 0) co_return lease_lost(jid, target);
  co_return Status{};
}

awaitable<Status> RedisStore::forget_processes(const std::string& jid, const std::string& target) {
  auto forgetting = scripts_.eval(Script::ForgetProcesses, {jid, process_field_prefix(target)});
  auto reply = co_await std::move(forgetting);
  if (!reply) co_return reply.error();
  co_return Status{};
}

awaitable<Result<std::vector<std::pair<std::string, RunProcess>>>> RedisStore::load_processes(const std::string& jid) {
  auto loading = connection_.command("HGETALL", prefix_ + "procs:" + jid);
  auto reply = co_await std::move(loading);
  auto fields = array_of(std::move(reply));
  if (!fields) co_return fields.error();
  std::vector<StoredProcess> stored;
  for (std::size_t i = 0; i + 1 < fields->size(); i += 2)
    stored.push_back(decode_process((*fields)[i].str(), (*fields)[i + 1].str()));
  std::sort(stored.begin(), stored.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  std::vector<std::pair<std::string, RunProcess>> processes;
  for (auto& one : stored) processes.emplace_back(std::move(one.target), std::move(one.process));
  co_return processes;
}

awaitable<Result<Lease>> RedisStore::acquire_lease(const std::string& server, double now, double ttl) {
  auto acquiring = scripts_.eval(Script::AcquireLease, {server, number(now + ttl)});
  auto reply = co_await std::move(acquiring);
  auto epoch = integer_of(reply);
  if (!epoch) co_return epoch.error();
  lease_ = Lease{server, static_cast<std::uint64_t>(*epoch)};
  co_return lease_;
}

awaitable<Status> RedisStore::renew_lease(double now, double ttl) {
  const Lease lease = lease_;
  auto renewing = scripts_.eval(Script::RenewLease,
                                {lease.server, number(static_cast<std::int64_t>(lease.epoch)), number(now + ttl)});
  auto reply = co_await std::move(renewing);
  auto renewed = integer_of(reply);
  if (!renewed) co_return renewed.error();
  if (*renewed == 0) co_return make_error(ErrorCode::Conflict, "lease lost: server " + lease.server + " was taken over");
  co_return Status{};
}

awaitable<Status> RedisStore::release_lease() {
  auto releasing =
      scripts_.eval(Script::ReleaseLease, {lease_.server, number(static_cast<std::int64_t>(lease_.epoch))});
  auto reply = co_await std::move(releasing);
  if (!reply) co_return reply.error();
  co_return Status{};
}

// Placement by target is not on Redis yet (helper i15-redis-slots): every run is ours.
awaitable<Result<std::vector<std::string>>> RedisStore::create_job_by_target(const Job& job) {
  auto created = co_await create_job(job);
  if (!created) co_return created.error();
  co_return std::vector<std::string>(job.targets.size(), lease_.server);
}

awaitable<Result<std::vector<TakenRun>>> RedisStore::take_inbox() { co_return std::vector<TakenRun>{}; }

awaitable<Result<std::vector<TakenRun>>> RedisStore::take_over(double now) {
  auto taking =
      scripts_.eval(Script::TakeOver, {lease_.server, number(static_cast<std::int64_t>(lease_.epoch)), number(now)});
  auto reply = co_await std::move(taking);
  auto taken = array_of(std::move(reply));
  if (!taken) co_return taken.error();
  std::vector<TakenRun> runs;
  for (const auto& run : *taken) {
    if (run.elements.size() != 3) continue;
    runs.push_back({run.elements[0].str(), run.elements[1].str(), run.elements[2].str()});
  }
  co_return runs;
}

awaitable<Result<bool>> RedisStore::request_cancel(const std::string& jid, const std::string& reason) {
  auto asking = scripts_.eval(Script::RequestCancel, {jid, reason});
  auto reply = co_await std::move(asking);
  auto asked = integer_of(reply);
  if (!asked) co_return asked.error();
  co_return *asked > 0;
}

awaitable<Result<std::vector<CancelRequest>>> RedisStore::cancel_requests() {
  auto listing = scripts_.eval(Script::CancelRequests, {});
  auto reply = co_await std::move(listing);
  auto listed = array_of(std::move(reply));
  if (!listed) co_return listed.error();
  std::vector<CancelRequest> requests;
  for (std::size_t i = 0; i + 1 < listed->size(); i += 2)
    requests.push_back({(*listed)[i].str(), (*listed)[i + 1].str()});
  co_return requests;
}

}  // namespace steward::store::redis
