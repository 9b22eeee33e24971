#include "store/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <limits>

#include "store/sqlite/leases.hpp"
#include "store/json_columns.hpp"
#include "store/sqlite/records.hpp"
#include "store/sqlite/sqlite_worker.hpp"
#include "store/sqlite/statement.hpp"
#include "store/sqlite/tokens.hpp"
#include "store/sqlite/audit.hpp"

namespace steward::store {
namespace {

using boost::asio::awaitable;

// A run row keeps each stream's size and last kStoredTail bytes ahead of the
// whole streams, which come last: a rowid table reads a row's columns in order
// and stops before the overflow pages of the columns it is not asked for, so
// listings and job objects never load a whole output. (A WITHOUT ROWID table
// loads every seeked row's full payload.)
constexpr std::size_t kStoredTail = 64 * 1024;
constexpr const char* kRunsTable = R"sql(
CREATE TABLE IF NOT EXISTS runs(
  jid TEXT NOT NULL, target TEXT NOT NULL, position INTEGER NOT NULL, phase INTEGER NOT NULL,
  status INTEGER NOT NULL, rtc INTEGER, signal INTEGER,
  stdout_truncated INTEGER NOT NULL, stderr_truncated INTEGER NOT NULL, facts TEXT NOT NULL,
  error TEXT NOT NULL, startat REAL NOT NULL, finishat REAL NOT NULL, queue_wait REAL NOT NULL,
  stdout_size INTEGER NOT NULL DEFAULT 0, stderr_size INTEGER NOT NULL DEFAULT 0,
  stdout_tail BLOB NOT NULL DEFAULT x'', stderr_tail BLOB NOT NULL DEFAULT x'',
  owner TEXT NOT NULL DEFAULT '', epoch INTEGER NOT NULL DEFAULT 0,
  stdout BLOB NOT NULL, stderr BLOB NOT NULL,
  PRIMARY KEY(jid, target));
)sql";
// Schema 0 (user_version 0) kept whole streams in a WITHOUT ROWID runs table;
// schema 1 had no run owners nor cancel requests.
constexpr int kSchemaVersion = 2;
constexpr const char* kMigrateRunsFrom0 = R"sql(
ALTER TABLE runs RENAME TO runs_v0;
%RUNS%
INSERT INTO runs(jid, target, position, phase, status, rtc, signal, stdout_truncated, stderr_truncated, facts,
                 error, startat, finishat, queue_wait, stdout_size, stderr_size, stdout_tail, stderr_tail,
                 stdout, stderr)
  SELECT jid, target, position, phase, status, rtc, signal, stdout_truncated, stderr_truncated, facts,
         error, startat, finishat, queue_wait, length(CAST(stdout AS BLOB)), length(CAST(stderr AS BLOB)),
         ifnull(substr(CAST(stdout AS BLOB), -%TAIL%), x''),
         ifnull(substr(CAST(stderr AS BLOB), -%TAIL%), x''), stdout, stderr
  FROM runs_v0;
DROP TABLE runs_v0;
)sql";
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs(
  jid TEXT PRIMARY KEY, state INTEGER NOT NULL, error TEXT NOT NULL,
  startat REAL NOT NULL, finishat REAL NOT NULL, operate TEXT NOT NULL,
  operate_args TEXT NOT NULL, targets TEXT NOT NULL, cancel_reason TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_by_start ON jobs(startat DESC, jid DESC);
CREATE TABLE IF NOT EXISTS chunks(
  jid TEXT NOT NULL, seq INTEGER NOT NULL, target TEXT NOT NULL, stream INTEGER NOT NULL,
  data BLOB NOT NULL, at REAL NOT NULL, PRIMARY KEY(jid, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records(
  kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, created INTEGER NOT NULL,
  PRIMARY KEY(kind, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS condition_values(
  condition TEXT NOT NULL, at REAL NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS condition_values_by_id ON condition_values(condition, at);
CREATE INDEX IF NOT EXISTS condition_values_by_age ON condition_values(at);
CREATE TABLE IF NOT EXISTS run_processes(
  jid TEXT NOT NULL, target TEXT NOT NULL, status_path TEXT NOT NULL, transport TEXT NOT NULL,
  pgid INTEGER NOT NULL, start_time TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY(jid, target, status_path)) WITHOUT ROWID;
)sql";

constexpr const char* kSelectJob =
    "SELECT jid, state, error, startat, finishat, operate, operate_args, targets FROM jobs";
// Newest first by start time: old ids (20 digits) and UUIDs do not sort together.
constexpr const char* kNewestFirst = " ORDER BY startat DESC, jid DESC LIMIT ? OFFSET ?";

Result<sqlite3*> open_connection(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return make_error(ErrorCode::Internal, "cannot open store " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

Job read_job_row(Statement& row) {
  Job job;
  job.jid = row.text(0);
  job.state = static_cast<JobState>(row.integer(1));
  job.error = row.text(2);
  job.startat = row.real(3);
  job.finishat = row.real(4);
  job.operate = row.text(5);
  if (auto args = parse_or_null(row.text(6)); args.is_object()) job.operate_args = args.as_object();
  if (auto targets = parse_or_null(row.text(7)); targets.is_array()) {
    for (const auto& t : targets.as_array())
      if (t.is_string()) job.targets.emplace_back(t.as_string());
  }
  return job;
}

// The columns that carry a stream: all of it, its last ?2 bytes (from the
// stored tail when that holds them), or '' (the blobs stay on disk).
std::string output_columns(const OutputLimit& output) {
  if (output.tail == OutputLimit::kAll) return "stdout, stderr";
  if (output.tail == 0) return "'', ''";
  if (output.tail <= kStoredTail) return "substr(stdout_tail, -?2), substr(stderr_tail, -?2)";
  return "substr(stdout, -?2), substr(stderr, -?2)";
}

void note_stream_size(std::optional<std::size_t>& size, const std::string& loaded, std::int64_t stored) {
  if (stored > static_cast<std::int64_t>(loaded.size())) size = static_cast<std::size_t>(stored);
}

Status read_runs(sqlite3* db, Job& job, const OutputLimit& output) {
  const std::string sql = "SELECT target, phase, status, rtc, signal, " + output_columns(output) +
                          ", stdout_truncated, stderr_truncated, facts, error, startat, finishat, queue_wait, "
                          "stdout_size, stderr_size, owner FROM runs WHERE jid = ?1";
  Statement q(db, sql.c_str());
  q.bind(1, job.jid);
  if (output.tail != 0 && output.tail != OutputLimit::kAll) q.bind(2, static_cast<std::int64_t>(output.tail));
  while (q.step()) {
    TargetRun& run = job.runs[q.text(0)];
    run.phase = static_cast<RunPhase>(q.integer(1));
    run.result.state = static_cast<OpState>(q.integer(2));
    if (!q.is_null(3)) run.result.rtc = static_cast<int>(q.integer(3));
    if (!q.is_null(4)) run.result.signal = static_cast<int>(q.integer(4));
    run.result.stdout_data = q.text(5);
    run.result.stderr_data = q.text(6);
    run.result.stdout_truncated = q.integer(7) != 0;
    run.result.stderr_truncated = q.integer(8) != 0;
    run.result.facts = parse_or_null(q.text(9));
    run.result.error = q.text(10);
    run.startat = q.real(11);
    run.finishat = q.real(12);
    run.queue_wait = q.real(13);
    note_stream_size(run.result.stdout_size, run.result.stdout_data, q.integer(14));
    note_stream_size(run.result.stderr_size, run.result.stderr_data, q.integer(15));
    run.owner = q.text(16);
  }
  return q.status();
}

// substr() counts bytes in a blob (every stored stream is one), so only the
// asked slice leaves SQLite.
Result<std::optional<OutputPage>> select_output_page(sqlite3* db, const std::string& jid, const std::string& target,
                                                     OutputStream stream, std::uint64_t offset, std::size_t limit) {
  Statement q(db, stream == OutputStream::Stdout
                      ? "SELECT substr(stdout, ?3, ?4), stdout_size, phase FROM runs WHERE jid=?1 AND target=?2"
                      : "SELECT substr(stderr, ?3, ?4), stderr_size, phase FROM runs WHERE jid=?1 AND target=?2");
  q.bind(1, jid).bind(2, target);
  constexpr std::uint64_t kLastByte = std::numeric_limits<std::int64_t>::max() - 1;
  q.bind(3, static_cast<std::int64_t>(std::min(offset, kLastByte)) + 1);
  q.bind(4, static_cast<std::int64_t>(std::min<std::uint64_t>(limit, kLastByte)));
  if (!q.step()) {
    if (auto s = q.status(); !s) return s.error();
    return std::optional<OutputPage>();
  }
  OutputPage page;
  page.data = q.text(0);
  page.total = static_cast<std::uint64_t>(q.integer(1));
  page.finished = static_cast<RunPhase>(q.integer(2)) == RunPhase::Finished;
  return std::optional<OutputPage>(std::move(page));
}

// Refused (lease_lost) unless `lease` owns the run.
Status write_run(sqlite3* db, const Lease& lease, const std::string& jid, const std::string& target,
                 const TargetRun& run) {
  Statement q(db,
              "UPDATE runs SET phase=?1, status=?2, rtc=?3, signal=?4, stdout=?5, stderr=?6, stdout_truncated=?7, "
              "stderr_truncated=?8, facts=?9, error=?10, startat=?11, finishat=?12, queue_wait=?13, "
              "stdout_size=length(?5), stderr_size=length(?6), stdout_tail=ifnull(substr(?5, -?16), x''), "
              "stderr_tail=ifnull(substr(?6, -?16), x'') WHERE jid=?14 AND target=?15 AND owner=?17 AND epoch=?18");
  const OpResult& r = run.result;
  q.bind(1, static_cast<int>(run.phase)).bind(2, static_cast<int>(r.state)).bind(3, r.rtc).bind(4, r.signal);
  q.bind_blob(5, r.stdout_data).bind_blob(6, r.stderr_data);
  q.bind(7, r.stdout_truncated ? 1 : 0).bind(8, r.stderr_truncated ? 1 : 0);
  q.bind(9, r.facts.is_null() ? std::string() : boost::json::serialize(r.facts)).bind(10, r.error);
  q.bind(11, run.startat).bind(12, run.finishat).bind(13, run.queue_wait).bind(14, jid).bind(15, target);
  q.bind(16, static_cast<std::int64_t>(kStoredTail));
  q.bind(17, lease.server).bind(18, static_cast<std::int64_t>(lease.epoch));
  if (auto s = q.run(); !s) return s;
  if (sqlite3_changes(db) == 0) return lease_lost(jid, target);
  return {};
}

// Output and command records of a run `lease` no longer owns are refused too.
constexpr const char* kOwnedRun = "EXISTS(SELECT 1 FROM runs WHERE jid=?1 AND target=?2 AND owner=?3 AND epoch=?4)";

void bind_owned_run(Statement& q, const std::string& jid, const std::string& target, const Lease& lease) {
  q.bind(1, jid).bind(2, target).bind(3, lease.server).bind(4, static_cast<std::int64_t>(lease.epoch));
}

// `owners`: each run's, in job.targets order.
Status insert_job(sqlite3* db, const std::vector<Lease>& owners, const Job& job) {
  Statement q(db,
              "INSERT INTO jobs(jid, state, error, startat, finishat, operate, operate_args, targets) "
              "VALUES(?,?,?,?,?,?,?,?)");
  q.bind(1, job.jid).bind(2, static_cast<int>(job.state)).bind(3, job.error).bind(4, job.startat);
  q.bind(5, job.finishat).bind(6, job.operate).bind(7, boost::json::serialize(job.operate_args));
  q.bind(8, targets_json(job.targets));
  if (auto s = q.run(); !s) return s;
  for (std::size_t position = 0; position < job.targets.size(); ++position) {
    const auto& lease = owners[position];
    Statement r(db,
                "INSERT INTO runs(jid, target, position, phase, status, stdout, stderr, stdout_truncated, "
                "stderr_truncated, facts, error, startat, finishat, queue_wait, owner, epoch) "
                "VALUES(?,?,?,0,0,x'',x'',0,0,'','',0,0,0,?,?)");
    r.bind(1, job.jid).bind(2, job.targets[position]).bind(3, static_cast<std::int64_t>(position));
    r.bind(4, lease.server).bind(5, static_cast<std::int64_t>(lease.epoch));
    if (auto s = r.run(); !s) return s;
  }
  return {};
}

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* writer, sqlite3* reader)
      : writer_(writer, SqliteWorker::Mode::Writer, "store writer"),
        reader_(reader, SqliteWorker::Mode::Reader, "store reader") {}

  awaitable<Status> create_job(const Job& job) override {
    return writer_.call<Status>([lease = lease_, job](sqlite3* db) {
      return insert_job(db, std::vector<Lease>(job.targets.size(), lease), job);
    });
  }

  awaitable<Result<std::vector<std::string>>> create_job_by_target(const Job& job) override {
    using Owners = std::vector<std::string>;
    return writer_.call<Result<Owners>>([lease = lease_, job](sqlite3* db) -> Result<Owners> {
      auto placer = Placer::load(db, lease, job.startat);
      if (!placer) return placer.error();
      std::vector<Lease> owners;
      for (const auto& target : job.targets) {
        auto owner = placer->target_lease(target);
        if (!owner) return owner.error();
        owners.push_back(std::move(*owner));
      }
      if (auto s = insert_job(db, owners, job); !s) return s.error();
      if (auto s = announce_placed_job(db, lease, job.jid, owners); !s) return s.error();
      Owners names;
      for (auto& owner : owners) names.push_back(std::move(owner.server));
      return names;
    });
  }

  awaitable<Result<std::vector<TakenRun>>> take_inbox() override {
    return writer_.call<Result<std::vector<TakenRun>>>([lease = lease_](sqlite3* db) { return take_inbox_rows(db, lease); });
  }

  awaitable<Status> mark_started(const std::string& jid, const std::string& target, const TargetRun& run) override {
    return writer_.call<Status>(
        [lease = lease_, jid, target, run](sqlite3* db) { return write_run(db, lease, jid, target, run); });
  }

  void save_result(const std::string& jid, const std::string& target, const TargetRun& run) override {
    writer_.enqueue(
        [lease = lease_, jid, target, run](sqlite3* db) -> SqliteWorker::Notifier {
          log_failure(write_run(db, lease, jid, target, run));
          return {};
        },
        /*urgent=*/false);
  }

  void append_output(const std::string& jid, const OutputChunk& chunk) override {
    writer_.enqueue([lease = lease_, jid, chunk](sqlite3* db) -> SqliteWorker::Notifier {
      Statement q(db, (std::string("INSERT OR REPLACE INTO chunks(jid, seq, target, stream, data, at) "
                                   "SELECT ?1, iif(?5=0, (SELECT ifnull(max(seq), 0) + 1 FROM chunks WHERE jid=?1), ?5), "
                                   "?2, ?6, ?7, ?8 WHERE ") + kOwnedRun).c_str());
      bind_owned_run(q, jid, chunk.target, lease);
      q.bind(5, static_cast<std::int64_t>(chunk.seq)).bind(6, static_cast<int>(chunk.stream));
      q.bind_blob(7, chunk.data).bind(8, chunk.at);
      log_failure(q.run());
      if (sqlite3_changes(db) == 0) log_failure(lease_lost(jid, chunk.target));
      return {};
    }, /*urgent=*/false);
  }

  awaitable<Status> record_process(const std::string& jid, const std::string& target,
                                   const RunProcess& process) override {
    return writer_.call<Status>([lease = lease_, jid, target, process](sqlite3* db) -> Status {
      Statement q(db, (std::string("INSERT OR REPLACE INTO run_processes(jid, target, status_path, transport, pgid, "
                                   "start_time, seq) SELECT ?1, ?2, ?5, ?6, ?7, ?8, "
                                   "(SELECT ifnull(max(seq), 0) + 1 FROM run_processes) WHERE ") + kOwnedRun).c_str());
      bind_owned_run(q, jid, target, lease);
      q.bind(5, process.status_path).bind(6, process.transport);
      q.bind(7, static_cast<std::int64_t>(process.pgid)).bind(8, process.start_time);
      if (auto s = q.run(); !s) return s;
      if (sqlite3_changes(db) == 0) return lease_lost(jid, target);
      return {};
    });
  }

  awaitable<Status> forget_processes(const std::string& jid, const std::string& target) override {
    return writer_.call<Status>([jid, target](sqlite3* db) {
      Statement q(db, "DELETE FROM run_processes WHERE jid=? AND target=?");
      q.bind(1, jid).bind(2, target);
      return q.run();
    });
  }

  awaitable<Result<std::vector<std::pair<std::string, RunProcess>>>> load_processes(const std::string& jid) override {
    using Rows = std::vector<std::pair<std::string, RunProcess>>;
    return reader_.call<Result<Rows>>([jid](sqlite3* db) -> Result<Rows> {
      Statement q(db,
                  "SELECT target, transport, pgid, start_time, status_path FROM run_processes WHERE jid=? "
                  "ORDER BY seq");
      q.bind(1, jid);
      Rows rows;
      while (q.step()) {
        RunProcess process{q.text(1), static_cast<long>(q.integer(2)), q.text(3), q.text(4)};
        rows.emplace_back(q.text(0), std::move(process));
      }
      if (auto s = q.status(); !s) return s.error();
      return rows;
    });
  }

  awaitable<Status> finish_job(const Job& job) override {
    return writer_.call<Status>([jid = job.jid, state = job.state, error = job.error,
                                 finishat = job.finishat](sqlite3* db) -> Status {
      // Only once every run's result is stored: a server whose results were
      // refused (its lease was taken over) cannot end the job.
      Statement q(db,
                  "UPDATE jobs SET state=?1, error=?2, finishat=?3 WHERE jid=?4 AND "
                  "NOT EXISTS(SELECT 1 FROM runs WHERE jid=?4 AND phase!=?5)");
      q.bind(1, static_cast<int>(state)).bind(2, error).bind(3, finishat).bind(4, jid);
      q.bind(5, static_cast<int>(RunPhase::Finished));
      if (auto s = q.run(); !s) return s;
      if (sqlite3_changes(db) == 0)
        return make_error(ErrorCode::Conflict, "job " + jid + " has runs this server no longer owns, or is gone");
      return {};
    });
  }

  awaitable<Result<std::optional<Job>>> load_job(const std::string& jid, OutputLimit output) override {
    return reader_.call<Result<std::optional<Job>>>([jid, output](sqlite3* db) -> Result<std::optional<Job>> {
      Statement q(db, (std::string(kSelectJob) + " WHERE jid = ?").c_str());
      q.bind(1, jid);
      if (!q.step()) {
        if (auto s = q.status(); !s) return s.error();
        return std::optional<Job>();
      }
      Job job = read_job_row(q);
      if (auto s = read_runs(db, job, output); !s) return s.error();
      return std::optional<Job>(std::move(job));
    });
  }

  awaitable<Result<std::vector<Job>>> list_jobs(JobPage page, OutputLimit output) override {
    return reader_.call<Result<std::vector<Job>>>([page, output](sqlite3* db) {
      Statement q(db, (std::string(kSelectJob) + kNewestFirst).c_str());
      bind_page(q, page);
      return select_jobs(db, q, output);
    });
  }

  awaitable<Result<std::vector<std::string>>> list_job_ids(JobPage page) override {
    return reader_.call<Result<std::vector<std::string>>>([page](sqlite3* db) -> Result<std::vector<std::string>> {
      std::vector<std::string> ids;
      Statement q(db, (std::string("SELECT jid FROM jobs") + kNewestFirst).c_str());
      bind_page(q, page);
      while (q.step()) ids.push_back(q.text(0));
      if (auto s = q.status(); !s) return s.error();
      return ids;
    });
  }

  awaitable<Result<std::vector<OutputChunk>>> load_output(const std::string& jid,
                                                          std::uint64_t after_seq) override {
    return reader_.call<Result<std::vector<OutputChunk>>>(
        [jid, after_seq](sqlite3* db) -> Result<std::vector<OutputChunk>> {
          Statement q(db, "SELECT seq, target, stream, data, at FROM chunks WHERE jid=? AND seq>? ORDER BY seq");
          q.bind(1, jid).bind(2, static_cast<std::int64_t>(after_seq));
          std::vector<OutputChunk> out;
          while (q.step()) {
            out.push_back({static_cast<std::uint64_t>(q.integer(0)), q.text(1),
                           static_cast<OutputStream>(q.integer(2)), q.text(3), q.real(4)});
          }
          if (auto s = q.status(); !s) return s.error();
          return out;
        });
  }

  awaitable<Result<std::optional<OutputPage>>> read_output(const std::string& jid, const std::string& target,
                                                          OutputStream stream, std::uint64_t offset,
                                                          std::size_t limit) override {
    return reader_.call<Result<std::optional<OutputPage>>>([jid, target, stream, offset, limit](sqlite3* db) {
      return select_output_page(db, jid, target, stream, offset, limit);
    });
  }

  awaitable<Result<bool>> delete_job(const std::string& jid) override {
    return writer_.call<Result<bool>>([jid](sqlite3* db) -> Result<bool> {
      Statement q(db, "DELETE FROM jobs WHERE jid=?");
      q.bind(1, jid);
      if (auto s = q.run(); !s) return s.error();
      bool existed = sqlite3_changes(db) > 0;
      if (auto s = delete_children(db, jid); !s) return s.error();
      return existed;
    });
  }

  awaitable<Result<std::vector<std::string>>> unended_jobs(double before) override {
    return reader_.call<Result<std::vector<std::string>>>([before](sqlite3* db) -> Result<std::vector<std::string>> {
      // Few jobs are Running (jobs_state), and each one's runs are found by jid.
      Statement q(db,
                  "SELECT jid FROM jobs WHERE state=?1"
                  " AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.jid=jobs.jid AND (phase!=?2 OR finishat>=?3))"
                  " ORDER BY startat, jid");
      q.bind(1, static_cast<int>(JobState::Running)).bind(2, static_cast<int>(RunPhase::Finished)).bind(3, before);
      std::vector<std::string> jids;
      while (q.step()) jids.push_back(q.text(0));
      if (auto s = q.status(); !s) return s.error();
      return jids;
    });
  }

  awaitable<Result<std::vector<Job>>> unfinished_jobs() override {
    return reader_.call<Result<std::vector<Job>>>([lease = lease_](sqlite3* db) {
      Statement q(db, (std::string(kSelectJob) +
                       " WHERE state=?1 AND jid IN (SELECT jid FROM runs WHERE owner=?2 AND epoch=?3 AND phase!=?4)"
                       " ORDER BY startat, jid").c_str());
      q.bind(1, static_cast<int>(JobState::Running)).bind(2, lease.server);
      q.bind(3, static_cast<std::int64_t>(lease.epoch)).bind(4, static_cast<int>(RunPhase::Finished));
      return select_jobs(db, q, OutputLimit{});
    });
  }

  awaitable<Result<Lease>> acquire_lease(const std::string& server, double now, double ttl) override {
    // The awaitable is a local, not a temporary of the co_await (GCC 12, PR 99576).
    auto acquiring =
        writer_.call<Result<Lease>>([server, now, ttl](sqlite3* db) { return acquire_lease_row(db, server, now, ttl); });
    auto acquired = co_await std::move(acquiring);
    if (acquired) lease_ = *acquired;
    co_return acquired;
  }

  awaitable<Status> renew_lease(double now, double ttl) override {
    return writer_.call<Status>([lease = lease_, now, ttl](sqlite3* db) { return renew_lease_row(db, lease, now, ttl); });
  }

  awaitable<Status> release_lease() override {
    return writer_.call<Status>([lease = lease_](sqlite3* db) { return release_lease_row(db, lease); });
  }

  awaitable<Result<std::vector<TakenRun>>> take_over(double now) override {
    return writer_.call<Result<std::vector<TakenRun>>>(
        [lease = lease_, now](sqlite3* db) { return take_over_rows(db, lease, now); });
  }

  awaitable<Result<std::vector<std::string>>> live_servers(double now) override {
    return reader_.call<Result<std::vector<std::string>>>([lease = lease_, now](sqlite3* db) { return live_server_rows(db, lease, now); });
  }

  awaitable<Result<bool>> request_cancel(const std::string& jid, const std::string& reason) override {
    return writer_.call<Result<bool>>([jid, reason](sqlite3* db) { return request_cancel_row(db, jid, reason); });
  }

  awaitable<Result<std::vector<CancelRequest>>> cancel_requests() override {
    return reader_.call<Result<std::vector<CancelRequest>>>([](sqlite3* db) { return select_cancel_requests(db); });
  }
  // Other servers on the file may be other processes, which cannot tell us:
  // the file is polled (README "Servers and leases").
  awaitable<News> wait_for_news(std::chrono::milliseconds) override { co_return News::NotPushed; }

  awaitable<Result<std::size_t>> prune(double finished_before) override {
    return writer_.call<Result<std::size_t>>([finished_before](sqlite3* db) -> Result<std::size_t> {
      std::vector<std::string> doomed;
      {
        Statement q(db, "SELECT jid FROM jobs WHERE state != ? AND finishat > 0 AND finishat < ?");
        q.bind(1, static_cast<int>(JobState::Running)).bind(2, finished_before);
        while (q.step()) doomed.push_back(q.text(0));
        if (auto s = q.status(); !s) return s.error();
      }
      for (const auto& jid : doomed) {
        Statement q(db, "DELETE FROM jobs WHERE jid=?");
        q.bind(1, jid);
        if (auto s = q.run(); !s) return s.error();
        if (auto s = delete_children(db, jid); !s) return s.error();
      }
      return doomed.size();
    });
  }

  awaitable<Status> put_record(const std::string& kind, const std::string& id,
                               const boost::json::object& record) override {
    return writer_.call<Status>([kind, id, body = boost::json::serialize(record)](sqlite3* db) {
      return put_record_row(db, kind, id, body);
    });
  }

  awaitable<Result<std::optional<boost::json::object>>> get_record(const std::string& kind,
                                                                    const std::string& id) override {
    return reader_.call<Result<std::optional<boost::json::object>>>(
        [kind, id](sqlite3* db) { return get_record_row(db, kind, id); });
  }

  awaitable<Result<std::vector<boost::json::object>>> list_records(const std::string& kind) override {
    return reader_.call<Result<std::vector<boost::json::object>>>(
        [kind](sqlite3* db) { return list_record_rows(db, kind); });
  }

  awaitable<Result<bool>> delete_record(const std::string& kind, const std::string& id) override {
    return writer_.call<Result<bool>>([kind, id](sqlite3* db) { return delete_record_row(db, kind, id); });
  }

  void append_condition_value(const std::string& condition, const ConditionValue& value) override {
    writer_.enqueue([condition, value](sqlite3* db) -> SqliteWorker::Notifier {
      log_failure(insert_condition_value(db, condition, value));
      return {};
    }, /*urgent=*/false);
  }

  awaitable<Result<std::vector<ConditionValue>>> load_condition_values(const std::string& condition,
                                                                       std::size_t limit) override {
    return reader_.call<Result<std::vector<ConditionValue>>>(
        [condition, limit](sqlite3* db) { return select_condition_values(db, condition, limit); });
  }

  awaitable<Result<std::size_t>> prune_condition_values(double before) override {
    return writer_.call<Result<std::size_t>>([before](sqlite3* db) { return delete_condition_values_before(db, before); });
  }

  awaitable<Status> add_token(const StoredToken& token) override {
    return writer_.call<Status>([token](sqlite3* db) { return insert_token_row(db, token); });
  }

  awaitable<Result<std::vector<StoredToken>>> list_tokens() override {
    return reader_.call<Result<std::vector<StoredToken>>>([](sqlite3* db) { return select_token_rows(db); });
  }

  awaitable<Result<bool>> delete_token(const std::string& name) override {
    return writer_.call<Result<bool>>([name](sqlite3* db) { return delete_token_row(db, name); });
  }

  void note_token_used(const std::string& name, double at) override {
    writer_.enqueue([name, at](sqlite3* db) -> SqliteWorker::Notifier {
      log_failure(update_token_last_used(db, name, at));
      return {};
    }, /*urgent=*/false);
  }

  void append_audit(const AuditEntry& entry) override {
    writer_.enqueue([entry](sqlite3* db) -> SqliteWorker::Notifier {
      log_failure(insert_audit_row(db, entry));
      return {};
    }, /*urgent=*/false);
  }

  awaitable<Result<std::vector<AuditEntry>>> list_audit(AuditFilter filter) override {
    return reader_.call<Result<std::vector<AuditEntry>>>(
        [filter = std::move(filter)](sqlite3* db) { return select_audit_rows(db, filter); });
  }

  awaitable<Result<std::size_t>> prune_audit(double before, std::size_t at_most) override {
    return writer_.call<Result<std::size_t>>(
        [before, at_most](sqlite3* db) { return delete_audit_rows_before(db, before, at_most); });
  }

  awaitable<Status> flush() override {
    return writer_.call<Status>([](sqlite3*) { return Status{}; });
  }

 private:
  static void log_failure(const Status& status) {
    if (!status) spdlog::error("store write failed: {}", status.error().message);
  }

  static Status delete_children(sqlite3* db, const std::string& jid) {
    for (const char* sql : {"DELETE FROM runs WHERE jid=?", "DELETE FROM chunks WHERE jid=?",
                            "DELETE FROM run_processes WHERE jid=?"}) {
      Statement q(db, sql);
      q.bind(1, jid);
      if (auto s = q.run(); !s) return s;
    }
    return {};
  }

  // LIMIT -1 is SQLite's "no limit".
  static void bind_page(Statement& q, const JobPage& page) {
    q.bind(1, page.limit ? static_cast<std::int64_t>(*page.limit) : std::int64_t{-1});
    q.bind(2, static_cast<std::int64_t>(page.offset));
  }

  // The jobs a bound kSelectJob query yields, each with its runs.
  static Result<std::vector<Job>> select_jobs(sqlite3* db, Statement& q, const OutputLimit& output) {
    std::vector<Job> jobs;
    while (q.step()) jobs.push_back(read_job_row(q));
    if (auto s = q.status(); !s) return s.error();
    for (auto& job : jobs)
      if (auto s = read_runs(db, job, output); !s) return s.error();
    return jobs;
  }

  Lease lease_;  // loop thread only; each write takes a copy
  // Declaration order matters: the reader closes before the writer checkpoints.
  SqliteWorker writer_;
  SqliteWorker reader_;
};

Result<std::int64_t> schema_version(sqlite3* db) {
  Statement q(db, "PRAGMA user_version");
  if (!q.step()) {
    if (auto s = q.status(); !s) return s.error();
    return std::int64_t{0};
  }
  return q.integer(0);
}

bool has_table(sqlite3* db, const char* name) {
  Statement q(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?");
  q.bind(1, std::string_view(name));
  return q.step();
}

bool has_column(sqlite3* db, const char* table, const char* column) {
  Statement q(db, "SELECT 1 FROM pragma_table_info(?) WHERE name=?");
  q.bind(1, std::string_view(table)).bind(2, std::string_view(column));
  return q.step();
}

// Added columns go after the streams; only take_over() and fenced writes
// (which rewrite the row anyway) read them, through runs_by_owner.
Status add_ownership_columns(sqlite3* db) {
  if (has_table(db, "runs") && !has_column(db, "runs", "owner")) {
    if (auto s = exec_sql(db, "ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
                              "ALTER TABLE runs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;");
        !s)
      return s;
  }
  if (has_table(db, "jobs") && !has_column(db, "jobs", "cancel_reason"))
    return exec_sql(db, "ALTER TABLE jobs ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT ''");
  return {};
}

std::string replaced(std::string text, const std::string& marker, const std::string& with) {
  for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + with.size()))
    text.replace(at, marker.size(), with);
  return text;
}

Status migrate_in_transaction(sqlite3* db) {
  auto version = schema_version(db);
  if (!version) return version.error();
  if (*version >= kSchemaVersion) return {};
  if (*version < 1 && has_table(db, "runs")) {
    const std::string sql =
        replaced(replaced(kMigrateRunsFrom0, "%RUNS%", kRunsTable), "%TAIL%", std::to_string(kStoredTail));
    if (auto s = exec_sql(db, sql.c_str()); !s) return s;
    spdlog::info("store: moved run outputs behind per-stream sizes and tails (schema {})", kSchemaVersion);
  }
  if (auto s = add_ownership_columns(db); !s) return s;
  return exec_sql(db, ("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
}

// Brings an older store's tables to kSchemaVersion in one transaction, so a
// failure leaves the store as it was; a new store is just stamped.
Status migrate_to_current(sqlite3* db) {
  if (auto s = exec_sql(db, "BEGIN IMMEDIATE"); !s) return s;
  if (auto s = migrate_in_transaction(db); !s) {
    (void)exec_sql(db, "ROLLBACK");
    return s;
  }
  return exec_sql(db, "COMMIT");
}

Status prepare_schema(sqlite3* db) {
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (auto s = exec_sql(db, pragma); !s) return s;
  }
  if (auto s = migrate_to_current(db); !s) return s;
  if (auto s = exec_sql(db, kRunsTable); !s) return s;
  if (auto s = exec_sql(db, kSchema); !s) return s;
  if (auto s = prepare_token_schema(db); !s) return s;
  if (auto s = prepare_audit_schema(db); !s) return s;
  return prepare_lease_schema(db);
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  // SQLite gives a new -wal/-shm the database's mode; older files may be 0644.
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::chmod((path + suffix).c_str(), 0600);
  auto writer = open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!writer) return writer.error();
  if (auto s = prepare_schema(*writer); !s) {
    sqlite3_close_v2(*writer);
    return make_error(ErrorCode::Internal, "cannot prepare store " + path + ": " + s.error().message);
  }
  auto reader = open_connection(path, SQLITE_OPEN_READONLY);
  if (!reader) {
    sqlite3_close_v2(*writer);
    return reader.error();
  }
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(*writer, *reader));
}

}  // namespace steward::store
