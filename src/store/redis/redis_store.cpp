// The Redis store's data model. P is the key prefix (default "steward:",
// ?prefix= in the URL), so deployments and tests can share one Redis.
//
//   P job:<jid>          hash   state, error, startat, finishat, operate, args (JSON),
//                               targets (JSON), cancel (a cancel request's reason)
//   P runs:<jid>         hash   per target t: p:t phase, o:t owner, e:t epoch, s:t slot
//                               (store/placement.hpp), m:t result and times (JSON,
//                               times as exact strings)
//   P out:<jid>:<hex t>:1|2     string: a finished run's whole stdout / stderr
//                               (GETRANGE reads pages and tails without the rest)
//   P chunks:<jid>       zset   output chunks scored by their per-job seq
//   P procs:<jid>        hash   recorded commands, "<len>:<target><status path>" ->
//                               "<seq>\n<transport>\n<pgid>\n<start time>" (seq: INCR P seq:procs)
//   P jobs               zset   jid by startat: list_jobs is ZREVRANGE (startat, then jid, descending)
//   P finished           zset   ended jobs by finishat, for prune
//   P cancels            zset   jobs with a cancel request, by startat
//   P unended            zset   Running jobs whose runs have all finished, by when the
//                               last did (job field 'left' counts the unfinished runs)
//   P owned:<server>     set    unfinished runs ("<len(jid)>:<jid><target>") a server owns,
//                               for take-over and restart repair
//   P unfinished:<target> zset  jids (score 0) with an unfinished run on the target: its
//                               runs' owner is where new work for it goes (stickiness)
//   P inbox:<server>     list   work placed with a server by others, oldest first:
//                               "<len(jid)>:<jid><len(target)>:<target><from>" (TakenRun)
//   P news:<server>      list   at most one token: pushed with every inbox entry and
//                               cancel request, popped by the server's BLPOP (redis_news.hpp)
//   P lease-epoch        hash   server -> epoch (HINCRBY on every acquire and take-over)
//   P lease-expires      hash   server -> expiry in Unix seconds (0 released, -1 taken over)
//   P record:<kind>      hash   id -> JSON; P record-order:<kind> zset keeps first-put order
//   P values:<condition> zset   "<value> <seq>" by time; P value-conditions set names them
//   P token:<name>       hash   role, hash, created, last_used; P token-names set,
//                               P token-hashes hash (hash -> name, kept unique)
//
// Every check-and-write that must be atomic is one Lua script
// (redis_scripts.cpp): a run write is refused unless the run's o:/e: are the
// writer's lease; creating a job by target checks for the target's unfinished
// runs and inserts its own at once; take_over bumps expired servers' epochs
// and moves their runs; finish_job only when every p: is Finished. Scripts
// build their keys from the prefix, so this needs one Redis (not Redis Cluster).
#include "store/redis/redis_store.hpp"

#include "store/json_columns.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "store/redis/redis_codec.hpp"
#include "store/redis/redis_store_impl.hpp"

namespace steward::store {
namespace redis {
namespace {

constexpr std::size_t kPruneBatch = 500;

// The whole stream ('all'), none ('0') or its last N bytes. Beyond 2^40
// bytes a tail is the whole stream (and Lua prints such numbers in exponent form).
std::string tail_arg(const OutputLimit& output) {
  return output.tail >= (std::size_t{1} << 40) ? "all" : std::to_string(output.tail);
}

void read_job_fields(const std::vector<Reply>& fields, Job& job) {
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str();
    const std::string& value = fields[i + 1].str();
    if (name == "state") {
      job.state = static_cast<JobState>(to_integer(value));
    } else if (name == "error") {
      job.error = value;
    } else if (name == "startat") {
      job.startat = to_double(value);
    } else if (name == "finishat") {
      job.finishat = to_double(value);
    } else if (name == "operate") {
      job.operate = value;
    } else if (name == "args") {
      if (auto args = parse_or_null(value); args.is_object()) job.operate_args = args.as_object();
    } else if (name == "targets") {
      if (auto targets = parse_or_null(value); targets.is_array()) {
        for (const auto& t : targets.as_array())
          if (t.is_string()) job.targets.emplace_back(t.as_string());
      }
    }
  }
}

void read_run_fields(const std::vector<Reply>& fields, Job& job) {
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str();
    if (name.size() < 2 || name[1] != ':') continue;
    TargetRun& run = job.runs[name.substr(2)];
    if (name[0] == 'p') run.phase = static_cast<RunPhase>(to_integer(fields[i + 1].str()));
    if (name[0] == 'o') run.owner = fields[i + 1].str();
    if (name[0] == 'm') decode_run_meta(fields[i + 1].str(), run);
  }
}

void note_stream_size(std::optional<std::size_t>& size, const std::string& loaded, std::int64_t stored) {
  if (stored > static_cast<std::int64_t>(loaded.size())) size = static_cast<std::size_t>(stored);
}

// {target, stdout, stdout size, stderr, stderr size} per run.
void read_outputs(const std::vector<Reply>& outs, Job& job) {
  for (std::size_t i = 0; i + 4 < outs.size(); i += 5) {
    auto run = job.runs.find(outs[i].str());
    if (run == job.runs.end()) continue;
    OpResult& r = run->second.result;
    r.stdout_data = outs[i + 1].str();
    note_stream_size(r.stdout_size, r.stdout_data, outs[i + 2].integer);
    r.stderr_data = outs[i + 3].str();
    note_stream_size(r.stderr_size, r.stderr_data, outs[i + 4].integer);
  }
}

// Nullopt for the empty reply of an unknown job.
std::optional<Job> decode_job(const std::string& jid, const Reply& reply) {
  if (reply.elements.size() != 3) return std::nullopt;
  Job job;
  job.jid = jid;
  read_job_fields(reply.elements[0].elements, job);
  read_run_fields(reply.elements[1].elements, job);
  read_outputs(reply.elements[2].elements, job);
  return job;
}

}  // namespace

Result<std::int64_t> integer_of(const Result<Reply>& reply) {
  if (!reply) return reply.error();
  if (reply->type != Reply::Type::Integer) return make_error(ErrorCode::Internal, "redis: unexpected reply type");
  return reply->integer;
}

Result<std::vector<Reply>> array_of(Result<Reply> reply) {
  if (!reply) return reply.error();
  if (reply->type == Reply::Type::Nil) return std::vector<Reply>{};
  if (reply->type != Reply::Type::Array) return make_error(ErrorCode::Internal, "redis: unexpected reply type");
  return std::move(reply->elements);
}

Result<std::vector<std::string>> strings_of(Result<Reply> reply) {
  auto elements = array_of(std::move(reply));
  if (!elements) return elements.error();
  std::vector<std::string> strings;
  strings.reserve(elements->size());
  for (const auto& element : *elements) strings.push_back(element.str());
  return strings;
}

Error lease_lost(const std::string& jid, const std::string& target) {
  return make_error(ErrorCode::Conflict,
                    "lease lost: job " + jid + " on " + target + " is owned by another server now");
}

void log_failure(const Status& status) {
  if (!status) spdlog::error("store write failed: {}", status.error().message);
}

RedisStore::RedisStore(boost::asio::any_io_executor executor, Endpoint endpoint)
    : prefix_(endpoint.prefix),
      endpoint_(endpoint),
      connection_(std::move(executor), endpoint),
      scripts_(connection_, endpoint.prefix) {
  connection_.set_greeting(scripts_.load_commands());
}

std::vector<std::string> RedisStore::fenced_args(const std::string& jid, const std::string& target) const {
  return {jid, target, lease_.server, number(static_cast<std::int64_t>(lease_.epoch))};
}

namespace {

void report_write(const Result<Reply>& reply, const std::string& jid, const std::string& target) {
  auto written = integer_of(reply);
  if (!written) return log_failure(written.error());
  if (*written == 0) log_failure(lease_lost(jid, target));
}

bool redis_away(const Result<Reply>& reply) { return !reply && reply.error().code == ErrorCode::Unavailable; }

}  // namespace

void RedisStore::write_detached(Script script, std::vector<std::string> args, const std::string& jid,
                                const std::string& target) {
  HeldWrite write{script, std::move(args), jid, target};
  if (!held_->empty()) {  // after what is held, never before it
    held_->hold(std::move(write));
    return;
  }
  auto sent = write.args;
  scripts_.eval_detached(script, std::move(sent),
                         [held = std::weak_ptr<HeldWrites>(held_), write = std::move(write)](Result<Reply> reply) mutable {
                           auto alive = held.lock();
                           if (alive && redis_away(reply)) return alive->hold(std::move(write));
                           report_write(reply, write.jid, write.target);
                         });
}

awaitable<Status> RedisStore::write_held() {
  auto held = held_;
  while (held->replaying) (void)co_await held->replayed.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(1));
  if (held->empty()) co_return Status{};
  held->replaying = true;
  Status status;
  std::size_t written = 0;
  while (!held->empty()) {
    auto writing = scripts_.eval(held->front().script, held->front().args);
    auto reply = co_await std::move(writing);
    if (redis_away(reply)) {
      status = reply.error();
      break;
    }
    report_write(reply, held->front().jid, held->front().target);
    held->pop();
    ++written;
  }
  held->replaying = false;
  held->replayed.notify_all();
  if (status) spdlog::info("Redis is back: {} held run writes recorded", written);
  co_return status;
}

std::vector<std::string> create_job_args(const Job& job, const Lease& lease, const LiveServers* live) {
  std::vector<std::string> args{job.jid, lease.server, number(static_cast<std::int64_t>(lease.epoch)),
                                std::to_string(static_cast<int>(job.state)), job.error, number(job.startat),
                                number(job.finishat), job.operate, boost::json::serialize(job.operate_args),
                                targets_json(job.targets), live ? "by-target" : "mine"};
  if (live) {
    live->append_names(args);
  } else {
    args.push_back("1");
    args.push_back(lease.server);
  }
  for (const auto& target : job.targets) {
    const std::uint32_t slot = slot_of(target);
    args.insert(args.end(), {target, std::to_string(slot), std::to_string(live ? live->owner_index(slot) : 1)});
  }
  return args;
}

Error job_exists(const std::string& jid) { return make_error(ErrorCode::Conflict, "job " + jid + " exists"); }

awaitable<Status> RedisStore::create_job(const Job& job) {
  auto creating = scripts_.eval(Script::CreateJob, create_job_args(job, lease_, nullptr));
  auto created = co_await std::move(creating);
  if (!created) co_return created.error();
  if (created->type == Reply::Type::Integer) co_return job_exists(job.jid);
  co_return Status{};
}

namespace {
std::vector<std::string> run_args(std::vector<std::string> args, const TargetRun& run) {
  args.push_back(std::to_string(static_cast<int>(run.phase)));
  args.push_back(encode_run_meta(run));
  args.push_back(run.result.stdout_data);
  args.push_back(run.result.stderr_data);
  return args;
}
}  // namespace

awaitable<Status> RedisStore::mark_started(const std::string& jid, const std::string& target, const TargetRun& run) {
  auto writing = scripts_.eval(Script::WriteRun, run_args(fenced_args(jid, target), run));
  auto written_reply = co_await std::move(writing);
  auto written = integer_of(std::move(written_reply));
  if (!written) co_return written.error();
  if (*written == 0) co_return lease_lost(jid, target);
  co_return Status{};
}

void RedisStore::save_result(const std::string& jid, const std::string& target, const TargetRun& run) {
  write_detached(Script::WriteRun, run_args(fenced_args(jid, target), run), jid, target);
}

void RedisStore::append_output(const std::string& jid, const OutputChunk& chunk) {
  auto args = fenced_args(jid, chunk.target);
  args.push_back(std::to_string(chunk.seq));
  args.push_back(encode_chunk(chunk));
  write_detached(Script::AppendOutput, std::move(args), jid, chunk.target);
}

awaitable<Status> RedisStore::finish_job(const Job& job) {
  auto holding = write_held();  // the results it checks come first
  if (auto held = co_await std::move(holding); !held) co_return held;
  auto finishing = scripts_.eval(Script::FinishJob, {job.jid, std::to_string(static_cast<int>(job.state)),
                                                     job.error, number(job.finishat)});
  auto finished_reply = co_await std::move(finishing);
  auto finished = integer_of(std::move(finished_reply));
  if (!finished) co_return finished.error();
  if (*finished == 0)
    co_return make_error(ErrorCode::Conflict, "job " + job.jid + " has runs this server no longer owns, or is gone");
  co_return Status{};
}

awaitable<Result<std::optional<Job>>> RedisStore::load_job(const std::string& jid, OutputLimit output) {
  auto loading = scripts_.eval(Script::LoadJob, {jid, tail_arg(output)});
  auto loaded = co_await std::move(loading);
  if (!loaded) co_return loaded.error();
  co_return decode_job(jid, *loaded);
}

awaitable<Result<std::vector<Job>>> RedisStore::load_jobs(const std::vector<std::string>& ids, OutputLimit output) {
  // The whole page in one round trip; a job deleted meanwhile is left out.
  std::vector<Command> commands;
  for (const auto& jid : ids) commands.push_back(scripts_.evalsha(Script::LoadJob, {jid, tail_arg(output)}));
  auto loading = connection_.run_all(std::move(commands));
  auto replies = co_await std::move(loading);
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    Result<Reply> reply = std::move(replies[i]);
    if (!reply && is_noscript(reply.error())) {
      auto again = scripts_.eval(Script::LoadJob, {ids[i], tail_arg(output)});
      reply = co_await std::move(again);
    }
    if (!reply) co_return reply.error();
    if (auto job = decode_job(ids[i], *reply)) jobs.push_back(std::move(*job));
  }
  co_return jobs;
}

awaitable<Result<std::vector<Job>>> RedisStore::list_jobs(JobPage page, OutputLimit output) {
  auto listing = list_job_ids(page);
  auto ids = co_await std::move(listing);
  if (!ids) co_return ids.error();
  auto loading = load_jobs(*ids, output);
  co_return co_await std::move(loading);
}

awaitable<Result<std::vector<std::string>>> RedisStore::list_job_ids(JobPage page) {
  if (page.limit && *page.limit == 0) co_return std::vector<std::string>{};
  const std::string first = std::to_string(page.offset);
  const std::string last = page.limit ? std::to_string(page.offset + *page.limit - 1) : "-1";
  auto listing = connection_.command("ZREVRANGE", prefix_ + "jobs", first, last);
  auto listed_reply = co_await std::move(listing);
  co_return strings_of(std::move(listed_reply));
}

awaitable<Result<std::vector<OutputChunk>>> RedisStore::load_output(const std::string& jid, std::uint64_t after_seq) {
  auto loading = connection_.command("ZRANGEBYSCORE", prefix_ + "chunks:" + jid, "(" + std::to_string(after_seq),
                                     "+inf");
  auto loaded_reply = co_await std::move(loading);
  auto loaded = array_of(std::move(loaded_reply));
  if (!loaded) co_return loaded.error();
  std::vector<OutputChunk> chunks;
  for (const auto& member : *loaded) chunks.push_back(decode_chunk(member.str()));
  co_return chunks;
}

awaitable<Result<std::optional<OutputPage>>> RedisStore::read_output(const std::string& jid,
                                                                    const std::string& target, OutputStream stream,
                                                                    std::uint64_t offset, std::size_t limit) {
  constexpr std::uint64_t kLastByte = std::numeric_limits<std::int64_t>::max() - 1;
  const auto first = static_cast<std::int64_t>(std::min<std::uint64_t>(offset, kLastByte));
  const auto last = static_cast<std::int64_t>(std::min<std::uint64_t>(
                        static_cast<std::uint64_t>(first) + std::min<std::uint64_t>(limit, kLastByte), kLastByte)) -
                    1;
  auto reading = scripts_.eval(Script::ReadOutput, {jid, target, std::to_string(static_cast<int>(stream)),
                                                    std::to_string(first), std::to_string(last)});
  auto read_reply = co_await std::move(reading);
  auto read = array_of(std::move(read_reply));
  if (!read) co_return read.error();
  if (read->size() != 3) co_return std::optional<OutputPage>();
  OutputPage page;
  page.finished = static_cast<RunPhase>(to_integer((*read)[0].str())) == RunPhase::Finished;
  page.data = std::move((*read)[1].text);
  page.total = static_cast<std::uint64_t>((*read)[2].integer);
  co_return std::optional<OutputPage>(std::move(page));
}

awaitable<Result<bool>> RedisStore::delete_job(const std::string& jid) {
  auto deleting = scripts_.eval(Script::DeleteJob, {jid});
  auto deleted_reply = co_await std::move(deleting);
  auto deleted = integer_of(std::move(deleted_reply));
  if (!deleted) co_return deleted.error();
  co_return *deleted > 0;
}

awaitable<Result<std::vector<std::string>>> RedisStore::unended_jobs(double before) {
  auto finding = scripts_.eval(Script::UnendedJobs, {number(before)});
  auto found_reply = co_await std::move(finding);
  co_return strings_of(std::move(found_reply));
}

awaitable<Result<std::vector<Job>>> RedisStore::unfinished_jobs() {
  auto finding = scripts_.eval(Script::UnfinishedJobs,
                               {lease_.server, number(static_cast<std::int64_t>(lease_.epoch))});
  auto found_reply = co_await std::move(finding);
  auto ids = strings_of(std::move(found_reply));
  if (!ids) co_return ids.error();
  auto loading = load_jobs(*ids, OutputLimit{});
  auto jobs = co_await std::move(loading);
  if (!jobs) co_return jobs.error();
  std::sort(jobs->begin(), jobs->end(), [](const Job& a, const Job& b) {
    return a.startat != b.startat ? a.startat < b.startat : a.jid < b.jid;
  });
  co_return jobs;
}

awaitable<Result<std::size_t>> RedisStore::prune(double finished_before) {
  std::size_t deleted = 0;
  for (;;) {
    auto pruning = scripts_.eval(Script::Prune, {number(finished_before), std::to_string(kPruneBatch)});
    auto pruned_reply = co_await std::move(pruning);
  auto pruned = array_of(std::move(pruned_reply));
    if (!pruned) co_return pruned.error();
    if (pruned->size() != 2) co_return make_error(ErrorCode::Internal, "redis: unexpected prune reply");
    deleted += static_cast<std::size_t>((*pruned)[0].integer);
    if ((*pruned)[1].integer < static_cast<std::int64_t>(kPruneBatch)) co_return deleted;
  }
}

awaitable<Status> RedisStore::flush() {
  auto holding = write_held();
  if (auto held = co_await std::move(holding); !held) co_return held;
  auto pinging = connection_.command("PING");
  auto pong = co_await std::move(pinging);
  if (!pong) co_return pong.error();
  co_return Status{};
}

}  // namespace redis

Result<std::unique_ptr<Store>> open_redis_store(const std::string& url, boost::asio::any_io_executor executor) {
  const char* env_password = std::getenv("STEWARD_REDIS_PASSWORD");
  auto endpoint = redis::parse_redis_url(url, env_password ? env_password : "");
  if (!endpoint) return endpoint.error();
  if (!executor)
    return make_error(ErrorCode::InvalidArgument, "store " + endpoint->shown + ": a Redis store needs an event loop");
  return std::unique_ptr<Store>(std::make_unique<redis::RedisStore>(std::move(executor), std::move(*endpoint)));
}

}  // namespace steward::store
