// Leases, take-over, cancel requests and recorded commands (README "Servers
// and leases"); the atomic parts are the Lua scripts in redis_scripts.cpp.
#include <boost/asio/this_coro.hpp>

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

awaitable<Result<LiveServers>> RedisStore::read_live_servers(const std::string& self, double at) {
  auto reading = connection_.command("HGETALL", prefix_ + "lease-expires");
  auto reply = co_await std::move(reading);
  auto expiries = array_of(std::move(reply));
  if (!expiries) co_return expiries.error();
  co_return LiveServers::from_expiries(*expiries, self, at);
}

awaitable<Result<std::vector<std::string>>> RedisStore::live_servers(double now) {
  auto reading = read_live_servers(lease_.server, now);
  auto live = co_await std::move(reading);
  if (!live) co_return live.error();
  co_return live->names();
}

namespace {

// Placing runs by the live servers is refused (-1) when they changed since
// they were read; each refusal is a lease taken, released or lost meanwhile,
// so a few reads settle it.
constexpr int kPlacementReads = 4;

bool live_servers_changed(const Reply& reply) { return reply.type == Reply::Type::Integer && reply.integer == -1; }

Error live_servers_kept_changing(const std::string& what) {
  return make_error(ErrorCode::Unavailable, "store unavailable: the live servers kept changing while " + what);
}

}  // namespace

awaitable<Result<std::vector<std::string>>> RedisStore::create_job_by_target(const Job& job) {
  const Lease lease = lease_;
  for (int read = 0; read < kPlacementReads; ++read) {
    if (read > 0 || !live_ || live_->self() != lease.server) {
      auto reading = read_live_servers(lease.server, job.startat);
      auto live = co_await std::move(reading);
      if (!live) co_return live.error();
      live_ = std::move(*live);
    }
    auto creating = scripts_.eval(Script::CreateJob, create_job_args(job, lease, &*live_));
    auto reply = co_await std::move(creating);
    if (!reply) co_return reply.error();
    if (live_servers_changed(*reply)) continue;
    if (reply->type == Reply::Type::Integer) co_return job_exists(job.jid);
    co_return strings_of(std::move(reply));
  }
  co_return live_servers_kept_changing("job " + job.jid + " was placed");
}

// Called by each server when told of news and at least every second: what
// is held is written soon after Redis is back.
awaitable<Result<std::vector<TakenRun>>> RedisStore::take_inbox() {
  auto holding = write_held();
  if (auto held = co_await std::move(holding); !held) co_return held.error();
  auto taking = scripts_.eval(Script::TakeInbox, {lease_.server});
  auto reply = co_await std::move(taking);
  auto entries = array_of(std::move(reply));
  if (!entries) co_return entries.error();
  std::vector<TakenRun> taken;
  for (const auto& entry : *entries) taken.push_back(decode_inbox_entry(entry.str()));
  co_return taken;
}

// The slot map goes with the script rather than being computed by it: Lua
// in Redis has no 64-bit integers for the rendezvous hash. The script checks
// before it changes anything that the live servers are still those the map
// was computed over, so a take-over never hands a run to a server that was
// released or taken over meanwhile; creates never interleave with it, being
// scripts too.
awaitable<Result<std::vector<TakenRun>>> RedisStore::take_over(double now) {
  const Lease lease = lease_;
  for (int read = 0; read < kPlacementReads; ++read) {
    auto reading = read_live_servers(lease.server, now);
    auto live = co_await std::move(reading);
    if (!live) co_return live.error();
    std::vector<std::string> args{lease.server, number(static_cast<std::int64_t>(lease.epoch)), number(now)};
    live->append_names(args);
    args.push_back(live->slot_map());
    auto taking = scripts_.eval(Script::TakeOver, std::move(args));
    auto reply = co_await std::move(taking);
    if (!reply) co_return reply.error();
    if (live_servers_changed(*reply)) continue;
    live_ = std::move(*live);
    auto taken = array_of(std::move(reply));
    if (!taken) co_return taken.error();
    std::vector<TakenRun> runs;
    for (const auto& run : *taken) {
      if (run.elements.size() != 3) continue;
      runs.push_back({run.elements[0].str(), run.elements[1].str(), run.elements[2].str()});
    }
    co_return runs;
  }
  co_return live_servers_kept_changing("runs were taken over");
}

awaitable<Result<bool>> RedisStore::request_cancel(const std::string& jid, const std::string& reason) {
  auto asking = scripts_.eval(Script::RequestCancel, {jid, reason});
  auto reply = co_await std::move(asking);
  auto asked = integer_of(reply);
  if (!asked) co_return asked.error();
  co_return *asked > 0;
}

awaitable<News> RedisStore::wait_for_news(std::chrono::milliseconds at_most) {
  if (lease_.server.empty()) co_return News::NotPushed;  // nobody can tell a server without a name
  if (!news_) {
    auto executor = co_await boost::asio::this_coro::executor;
    news_ = std::make_unique<NewsListener>(executor, endpoint_, prefix_ + "news:" + lease_.server);
  }
  auto waiting = news_->wait(at_most);
  const bool told = co_await std::move(waiting);
  co_return told ? News::Told : News::TimedOut;
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
