#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include <sqlite3.h>

#include "store/store.hpp"
#include "store/store_fixture.hpp"

namespace steward::store {
namespace {

namespace fs = std::filesystem;

// Jobs, runs, output, records and condition values: the contract every
// store keeps (on SQLite and on Redis), then SQLite's own migrations.
class JobStoreBase : public StoreFixture {
 protected:
  explicit JobStoreBase(std::string backend) : StoreFixture(std::move(backend)) {}
  void SetUp() override {
    prepare("store");
    if (IsSkipped() || HasFatalFailure()) return;
    reopen();
  }
  void stores_closed() override { store_.reset(); }
  void reopen() {
    store_.reset();
    store_ = open();
    ASSERT_TRUE(store_);
  }
  static Job sample_job(const std::string& jid) {
    Job job;
    job.jid = jid;
    job.operate = "execute";
    job.operate_args = {{"cmd", "echo hi"}};
    job.targets = {"web1", "web2"};
    job.startat = 100.5;
    for (const auto& t : job.targets) job.runs[t] = TargetRun{};
    return job;
  }
  static TargetRun finished_run() {
    TargetRun run;
    run.phase = RunPhase::Finished;
    run.result.state = OpState::Ok;
    return run;
  }
  std::unique_ptr<Store> store_;
};

class StoreTest : public JobStoreBase, public ::testing::WithParamInterface<std::string> {
 protected:
  StoreTest() : JobStoreBase(GetParam()) {}
};
INSTANTIATE_STORE_CONTRACT(StoreTest);

class SqliteStoreTest : public JobStoreBase {
 protected:
  SqliteStoreTest() : JobStoreBase("sqlite") {}
};

TEST_P(StoreTest, CreatedJobIsDurableAcrossReopen) {
  ASSERT_TRUE(sync(store_->create_job(sample_job("j1"))).ok());
  reopen();
  auto loaded = sync(store_->load_job("j1", {}));
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(loaded->has_value());
  const Job& job = **loaded;
  EXPECT_EQ(job.operate, "execute");
  EXPECT_EQ(job.operate_args.at("cmd").as_string(), "echo hi");
  EXPECT_EQ(job.targets, (std::vector<std::string>{"web1", "web2"}));
  EXPECT_EQ(job.state, JobState::Running);
  ASSERT_EQ(job.runs.size(), 2u);
  EXPECT_EQ(job.runs.at("web1").phase, RunPhase::Pending);
}

TEST_P(StoreTest, ResultsAndFinishRoundTrip) {
  Job job = sample_job("j2");
  ASSERT_TRUE(sync(store_->create_job(job)).ok());
  TargetRun run;
  run.phase = RunPhase::Finished;
  run.result.state = OpState::Failed;
  run.result.rtc = 2;
  run.result.stdout_data = std::string("bin\0ary", 7);
  run.result.stderr_truncated = true;
  run.result.facts = boost::json::object{{"hostname", "web1"}};
  run.result.error = "exit 2";
  run.startat = 101;
  run.finishat = 102;
  run.queue_wait = 0.25;
  store_->save_result("j2", "web1", run);
  TargetRun skipped;
  skipped.phase = RunPhase::Finished;
  skipped.result.state = OpState::Skipped;
  store_->save_result("j2", "web2", skipped);  // a job ends once every run has
  job.state = JobState::Failure;
  job.error = "1 target failed";
  job.finishat = 103;
  ASSERT_TRUE(sync(store_->finish_job(job)).ok());
  auto loaded = sync(store_->load_job("j2", {}));
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  const auto& got = (*loaded)->runs.at("web1");
  EXPECT_EQ(got.phase, RunPhase::Finished);
  EXPECT_EQ(got.result.state, OpState::Failed);
  EXPECT_EQ(got.result.rtc, 2);
  EXPECT_EQ(got.result.stdout_data, std::string("bin\0ary", 7));
  EXPECT_TRUE(got.result.stderr_truncated);
  EXPECT_EQ(got.result.facts.at("hostname").as_string(), "web1");
  EXPECT_DOUBLE_EQ(got.queue_wait, 0.25);
  EXPECT_EQ((*loaded)->state, JobState::Failure);
  EXPECT_EQ((*loaded)->error, "1 target failed");
  EXPECT_FALSE((*loaded)->runs.at("web2").result.rtc.has_value());
  EXPECT_EQ((*loaded)->runs.at("web2").result.state, OpState::Skipped);
}

TEST_P(StoreTest, OutputChunksInOrderAfterSeq) {
  ASSERT_TRUE(sync(store_->create_job(sample_job("j3"))).ok());
  for (std::uint64_t i = 1; i <= 5; ++i)
    store_->append_output("j3", {i, "web1", OutputStream::Stdout, "line" + std::to_string(i), 1.0});
  ASSERT_TRUE(sync(store_->flush()).ok());
  auto chunks = sync(store_->load_output("j3", 2));
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 3u);
  EXPECT_EQ((*chunks)[0].seq, 3u);
  EXPECT_EQ((*chunks)[2].data, "line5");
}

TEST_P(StoreTest, ChunksWrittenWithSeqZeroAreNumberedAfterTheLastOne) {
  ASSERT_TRUE(sync(store_->create_job(sample_job("j6"))).ok());
  store_->append_output("j6", {1, "web1", OutputStream::Stdout, "first", 1.0});
  store_->append_output("j6", {0, "web2", OutputStream::Stderr, "second", 2.0});
  store_->append_output("j6", {0, "web1", OutputStream::Stdout, "third", 3.0});
  ASSERT_TRUE(sync(store_->flush()).ok());
  auto chunks = sync(store_->load_output("j6", 0));
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 3u);
  for (std::uint64_t i = 0; i < 3; ++i) EXPECT_EQ((*chunks)[i].seq, i + 1);
  EXPECT_EQ((*chunks)[1].data, "second");
  EXPECT_EQ((*chunks)[1].target, "web2");
  EXPECT_EQ((*chunks)[1].stream, OutputStream::Stderr);
  EXPECT_EQ((*chunks)[2].data, "third");
  auto after = sync(store_->load_output("j6", 2));
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->front().seq, 3u);
}

TEST_P(StoreTest, UnfinishedListDeleteAndPrune) {
  Job old_job = sample_job("20260101000000000001");
  Job running = sample_job("20260101000000000002");
  ASSERT_TRUE(sync(store_->create_job(old_job)).ok());
  ASSERT_TRUE(sync(store_->create_job(running)).ok());
  old_job.state = JobState::Done;
  old_job.finishat = 50;
  for (const auto& target : old_job.targets) store_->save_result(old_job.jid, target, finished_run());
  ASSERT_TRUE(sync(store_->finish_job(old_job)).ok());

  auto unfinished = sync(store_->unfinished_jobs());
  ASSERT_TRUE(unfinished.ok());
  ASSERT_EQ(unfinished->size(), 1u);
  EXPECT_EQ((*unfinished)[0].jid, running.jid);

  auto listed = sync(store_->list_jobs({}, OutputLimit{}));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].jid, running.jid) << "newest first";

  auto pruned = sync(store_->prune(60));
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1u);
  EXPECT_FALSE(sync(store_->load_job(old_job.jid, {}))->has_value());

  auto deleted = sync(store_->delete_job(running.jid));
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  auto again = sync(store_->delete_job(running.jid));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_P(StoreTest, ListingIsNewestStartFirstWhateverTheIdFormat) {
  // A string order of these ids would be the reverse of their start order.
  const std::vector<std::pair<std::string, double>> jobs{{"01900000-0000-7000-8000-000000000000", 300},
                                                         {"20261130052514123456", 200},
                                                         {"ffffffff-0000-7000-8000-000000000000", 100}};
  for (const auto& [jid, startat] : jobs) {
    Job job = sample_job(jid);
    job.startat = startat;
    ASSERT_TRUE(sync(store_->create_job(job)).ok());
  }
  auto ids = sync(store_->list_job_ids({}));
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  EXPECT_EQ(*ids, (std::vector<std::string>{jobs[0].first, jobs[1].first, jobs[2].first}));

  auto page = sync(store_->list_job_ids({1, 1}));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, (std::vector<std::string>{jobs[1].first}));
  auto past_the_end = sync(store_->list_job_ids({5, std::nullopt}));
  ASSERT_TRUE(past_the_end.ok());
  EXPECT_TRUE(past_the_end->empty());

  auto detailed = sync(store_->list_jobs({0, 2}, OutputLimit{0}));
  ASSERT_TRUE(detailed.ok());
  ASSERT_EQ(detailed->size(), 2u);
  EXPECT_EQ((*detailed)[0].jid, jobs[0].first);
  EXPECT_EQ((*detailed)[1].jid, jobs[1].first);
}

TEST_P(StoreTest, ListingReadsOutputOnlyWhenAsked) {
  Job job = sample_job("j-output");
  ASSERT_TRUE(sync(store_->create_job(job)).ok());
  TargetRun run;
  run.phase = RunPhase::Finished;
  run.result.state = OpState::Changed;
  run.result.rtc = 0;
  run.result.stdout_data = "out";
  run.result.stderr_data = "err";
  store_->save_result(job.jid, "web1", run);
  ASSERT_TRUE(sync(store_->flush()).ok());

  auto light = sync(store_->list_jobs({}, OutputLimit{0}));
  ASSERT_TRUE(light.ok());
  ASSERT_EQ(light->size(), 1u);
  const TargetRun& listed = light->front().runs.at("web1");
  EXPECT_EQ(listed.result.state, OpState::Changed);
  EXPECT_EQ(listed.result.rtc, 0);
  EXPECT_TRUE(listed.result.stdout_data.empty());
  EXPECT_TRUE(listed.result.stderr_data.empty());

  auto full = sync(store_->list_jobs({}, OutputLimit{}));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->front().runs.at("web1").result.stdout_data, "out");
  EXPECT_EQ(full->front().runs.at("web1").result.stderr_data, "err");
}

// A finished run of "j-big" on web1 whose stdout is `out`.
static void save_finished_stdout(Store& store, const std::string& out) {
  TargetRun run;
  run.phase = RunPhase::Finished;
  run.result.state = OpState::Changed;
  run.result.stdout_data = out;
  run.result.stderr_data = "e";
  store.save_result("j-big", "web1", run);
}

TEST_P(StoreTest, ReadOutputPagesThroughAStoredStream) {
  ASSERT_TRUE(sync(store_->create_job(sample_job("j-big"))).ok());
  std::string out;
  for (int i = 0; i < 1000; ++i) out += std::to_string(i) + ",";
  save_finished_stdout(*store_, out);
  ASSERT_TRUE(sync(store_->flush()).ok());

  std::string reassembled;
  std::uint64_t offset = 0;
  for (;;) {
    auto page = sync(store_->read_output("j-big", "web1", OutputStream::Stdout, offset, 700));
    ASSERT_TRUE(page.ok()) << page.error().message;
    ASSERT_TRUE(page->has_value());
    EXPECT_EQ((*page)->total, out.size());
    EXPECT_TRUE((*page)->finished);
    EXPECT_LE((*page)->data.size(), 700u);
    if ((*page)->data.empty()) break;
    reassembled += (*page)->data;
    offset += (*page)->data.size();
  }
  EXPECT_EQ(reassembled, out);

  auto stderr_page = sync(store_->read_output("j-big", "web1", OutputStream::Stderr, 0, 10));
  ASSERT_TRUE(stderr_page.ok());
  EXPECT_EQ((*stderr_page)->data, "e");
  auto past_the_end = sync(store_->read_output("j-big", "web1", OutputStream::Stdout, out.size() + 5, 10));
  ASSERT_TRUE(past_the_end.ok());
  EXPECT_TRUE((*past_the_end)->data.empty());
  EXPECT_EQ((*past_the_end)->total, out.size());

  auto pending = sync(store_->read_output("j-big", "web2", OutputStream::Stdout, 0, 10));
  ASSERT_TRUE(pending.ok());
  ASSERT_TRUE(pending->has_value());
  EXPECT_FALSE((*pending)->finished);
  EXPECT_EQ((*pending)->total, 0u);
  EXPECT_FALSE(sync(store_->read_output("j-big", "nohost", OutputStream::Stdout, 0, 10))->has_value());
  EXPECT_FALSE(sync(store_->read_output("nojob", "web1", OutputStream::Stdout, 0, 10))->has_value());
}

TEST_P(StoreTest, ReadsCappedOutputAsTheTailWithTheWholeSize) {
  ASSERT_TRUE(sync(store_->create_job(sample_job("j-big"))).ok());
  const std::string out = std::string(100, 'a') + "0123456789";
  save_finished_stdout(*store_, out);
  ASSERT_TRUE(sync(store_->flush()).ok());

  auto tail = sync(store_->load_job("j-big", OutputLimit{10}));
  ASSERT_TRUE(tail.ok());
  const OpResult& capped = (*tail)->runs.at("web1").result;
  EXPECT_EQ(capped.stdout_data, "0123456789");
  EXPECT_EQ(capped.stdout_size, out.size());
  EXPECT_EQ(capped.stderr_data, "e");  // shorter than the cap: whole, no size
  EXPECT_FALSE(capped.stderr_size.has_value());

  auto listed = sync(store_->list_jobs({}, OutputLimit{4}));
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->front().runs.at("web1").result.stdout_data, "6789");

  auto whole = sync(store_->load_job("j-big", OutputLimit{}));
  EXPECT_EQ((*whole)->runs.at("web1").result.stdout_data, out);
  EXPECT_FALSE((*whole)->runs.at("web1").result.stdout_size.has_value());
}

// The runs table as schema 0 wrote it (user_version 0): whole streams inside
// a WITHOUT ROWID row.
constexpr const char* kSchema0 = R"sql(
CREATE TABLE jobs(
  jid TEXT PRIMARY KEY, state INTEGER NOT NULL, error TEXT NOT NULL,
  startat REAL NOT NULL, finishat REAL NOT NULL, operate TEXT NOT NULL,
  operate_args TEXT NOT NULL, targets TEXT NOT NULL);
CREATE TABLE runs(
  jid TEXT NOT NULL, target TEXT NOT NULL, position INTEGER NOT NULL, phase INTEGER NOT NULL,
  status INTEGER NOT NULL, rtc INTEGER, signal INTEGER, stdout BLOB NOT NULL, stderr BLOB NOT NULL,
  stdout_truncated INTEGER NOT NULL, stderr_truncated INTEGER NOT NULL, facts TEXT NOT NULL,
  error TEXT NOT NULL, startat REAL NOT NULL, finishat REAL NOT NULL, queue_wait REAL NOT NULL,
  PRIMARY KEY(jid, target)) WITHOUT ROWID;
INSERT INTO jobs VALUES('old', 0, '', 100.5, 101.5, 'execute', '{"cmd":"yes"}', '["web1","web2"]');
INSERT INTO runs VALUES('old', 'web1', 0, 2, 1, 0, NULL,
  CAST(printf('%.*c', 100000, 'a') || 'END' AS BLOB), x'6572', 1, 0, '{"k":1}', '', 100.5, 101.5, 0.25);
INSERT INTO runs VALUES('old', 'web2', 1, 0, 0, NULL, NULL, '', '', 0, 0, '', '', 0, 0, 0);
)sql";

std::string column_of(const fs::path& db_path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &q, nullptr), SQLITE_OK);
  std::string value;
  if (sqlite3_step(q) == SQLITE_ROW) value = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return value;
}

// A store written by schema 0 opens with every job and output, and its runs
// now keep sizes and tails ahead of the whole streams.
TEST_F(SqliteStoreTest, Schema0StoreMigratesKeepingJobsAndOutputs) {
  store_.reset();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  const fs::path db_path = dir_ / "steward.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, kSchema0, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const std::string out = std::string(100000, 'a') + "END";

  reopen();
  auto whole = sync(store_->load_job("old", OutputLimit{}));
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  ASSERT_TRUE(whole->has_value());
  EXPECT_EQ((*whole)->state, JobState::Done);
  EXPECT_EQ((*whole)->targets, (std::vector<std::string>{"web1", "web2"}));
  const TargetRun& run = (*whole)->runs.at("web1");
  EXPECT_EQ(run.phase, RunPhase::Finished);
  EXPECT_EQ(run.result.rtc, 0);
  EXPECT_EQ(run.result.stdout_data, out);
  EXPECT_EQ(run.result.stderr_data, "er");
  EXPECT_TRUE(run.result.stdout_truncated);
  EXPECT_EQ(run.queue_wait, 0.25);
  EXPECT_EQ((*whole)->runs.at("web2").phase, RunPhase::Pending);

  auto tail = sync(store_->load_job("old", OutputLimit{5}));
  ASSERT_TRUE(tail.ok() && tail->has_value());
  EXPECT_EQ((*tail)->runs.at("web1").result.stdout_data, "aaEND");
  EXPECT_EQ((*tail)->runs.at("web1").result.stdout_size, out.size());
  auto page = sync(store_->read_output("old", "web1", OutputStream::Stdout, 99998, 10));
  ASSERT_TRUE(page.ok() && page->has_value());
  EXPECT_EQ((*page)->data, "aaEND");
  EXPECT_EQ((*page)->total, out.size());

  store_.reset();
  EXPECT_EQ(column_of(db_path, "PRAGMA user_version"), "2");
  EXPECT_EQ(column_of(db_path, "SELECT sql FROM sqlite_master WHERE name='runs'").find("WITHOUT ROWID"),
            std::string::npos);
  EXPECT_EQ(column_of(db_path, "SELECT count(*) FROM sqlite_master WHERE name='runs_v0'"), "0");
  reopen();  // a migrated store opens as it is
  auto again = sync(store_->load_job("old", OutputLimit{}));
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->runs.at("web1").result.stdout_data, out);
}

// Tails past the stored 64 KiB come from the whole stream.
TEST_P(StoreTest, TailsLongerThanTheStoredTailReadTheWholeStream) {
  ASSERT_TRUE(sync(store_->create_job(sample_job("j-big"))).ok());
  std::string out;
  for (int i = 0; out.size() < 200000; ++i) out += std::to_string(i) + ",";
  save_finished_stdout(*store_, out);
  ASSERT_TRUE(sync(store_->flush()).ok());
  for (std::size_t cap : {std::size_t{64 * 1024}, std::size_t{64 * 1024 + 1}, std::size_t{150000}}) {
    auto job = sync(store_->load_job("j-big", OutputLimit{cap}));
    ASSERT_TRUE(job.ok());
    EXPECT_EQ((*job)->runs.at("web1").result.stdout_data, out.substr(out.size() - cap)) << cap;
    EXPECT_EQ((*job)->runs.at("web1").result.stdout_size, out.size());
  }
}

TEST_P(StoreTest, DuplicateJidIsAnError) {
  ASSERT_TRUE(sync(store_->create_job(sample_job("dup"))).ok());
  auto second = sync(store_->create_job(sample_job("dup")));
  EXPECT_FALSE(second.ok());
}

TEST_P(StoreTest, RecordsReplaceKeepOrderAndDelete) {
  ASSERT_TRUE(sync(store_->put_record("condition", "b", {{"id", "b"}, {"v", 1}})).ok());
  ASSERT_TRUE(sync(store_->put_record("condition", "a", {{"id", "a"}})).ok());
  ASSERT_TRUE(sync(store_->put_record("deployment", "a", {{"id", "other kind"}})).ok());
  ASSERT_TRUE(sync(store_->put_record("condition", "b", {{"id", "b"}, {"v", 2}})).ok());
  reopen();
  auto listed = sync(store_->list_records("condition"));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].at("id").as_string(), "b");  // first put first, even after a replace
  EXPECT_EQ((*listed)[0].at("v").as_int64(), 2);
  auto other = sync(store_->get_record("deployment", "a"));
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_EQ((**other).at("id").as_string(), "other kind");
  EXPECT_TRUE(*sync(store_->delete_record("condition", "a")));
  EXPECT_FALSE(*sync(store_->delete_record("condition", "a")));
  EXPECT_FALSE(sync(store_->get_record("condition", "a"))->has_value());
}

TEST_P(StoreTest, ConditionValuesNewestFirstLimitAndPrune) {
  for (int i = 1; i <= 5; ++i) store_->append_condition_value("c1", {100.0 * i, i / 10.0});
  store_->append_condition_value("c2", {150, 0.9});
  ASSERT_TRUE(sync(store_->flush()).ok());
  auto newest = sync(store_->load_condition_values("c1", 3));
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 3u);
  EXPECT_EQ((*newest)[0].at, 300);  // the newest three, oldest first
  EXPECT_EQ((*newest)[2].value, 0.5);
  auto pruned = sync(store_->prune_condition_values(250));
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 3u);  // c1 at 100 and 200, c2 at 150
  EXPECT_EQ(sync(store_->load_condition_values("c1", 10))->size(), 3u);
  EXPECT_TRUE(sync(store_->load_condition_values("c2", 10))->empty());
}

TEST(StoreRegistry, UnknownSchemeNamesSupportedOnes) {
  auto opened = open_store({"mysql://x", "/tmp"});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(opened.error().message.find("sqlite:"), std::string::npos);
}

TEST(StoreRegistry, UnwritablePathIsAClearError) {
  auto opened = open_store({"sqlite:/nonexistent-dir/x/steward.db", ""});
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("/nonexistent-dir/x/steward.db"), std::string::npos);
}

TEST_P(StoreTest, RecordedProcessesAreDurableInStartOrderAndForgottenPerTarget) {
  ASSERT_TRUE(sync(store_->create_job(sample_job("j1"))).ok());
  ASSERT_TRUE(sync(store_->record_process("j1", "web1", RunProcess{"local", 11, "100", "/d/runs/a"})).ok());
  ASSERT_TRUE(sync(store_->record_process("j1", "web2", RunProcess{"ssh", 22, "200", "~/.cache/steward/b"})).ok());
  ASSERT_TRUE(sync(store_->record_process("j1", "web1", RunProcess{"local", 33, "300", "/d/runs/c"})).ok());
  reopen();
  auto loaded = sync(store_->load_processes("j1"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 3u);
  EXPECT_EQ((*loaded)[0].first, "web1");
  EXPECT_EQ((*loaded)[0].second.pgid, 11);
  EXPECT_EQ((*loaded)[1].first, "web2");
  EXPECT_EQ((*loaded)[1].second.transport, "ssh");
  EXPECT_EQ((*loaded)[1].second.start_time, "200");
  EXPECT_EQ((*loaded)[1].second.status_path, "~/.cache/steward/b");
  EXPECT_EQ((*loaded)[2].second.pgid, 33);

  ASSERT_TRUE(sync(store_->forget_processes("j1", "web1")).ok());
  loaded = sync(store_->load_processes("j1"));
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].first, "web2");

  ASSERT_TRUE(sync(store_->delete_job("j1")).ok());
  loaded = sync(store_->load_processes("j1"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->empty());
}

// A database written before commands were recorded opens, keeps its jobs and
// records commands from then on.
TEST_F(SqliteStoreTest, OlderDatabaseWithoutTheProcessTableStillOpens) {
  ASSERT_TRUE(sync(store_->create_job(sample_job("old"))).ok());
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "steward.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE run_processes", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  reopen();
  auto job = sync(store_->load_job("old", {}));
  ASSERT_TRUE(job.ok());
  EXPECT_TRUE(job->has_value());
  ASSERT_TRUE(sync(store_->record_process("old", "web1", RunProcess{"local", 5, "1", "/p"})).ok());
  auto loaded = sync(store_->load_processes("old"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->size(), 1u);
}

}  // namespace
}  // namespace steward::store
