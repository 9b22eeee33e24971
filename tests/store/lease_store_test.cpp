// Leases, fenced run writes and cancel requests: two store objects on one
// store (a SQLite file or a Redis) act as two servers.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <sqlite3.h>

#include "core/clock.hpp"
#include "store/placement.hpp"
#include "store/store.hpp"
#include "store/store_fixture.hpp"

namespace steward::store {
namespace {

namespace fs = std::filesystem;

constexpr double kTtl = 10;
constexpr double kNow = 1'000'000;

class LeaseStoreBase : public StoreFixture {
 protected:
  explicit LeaseStoreBase(std::string backend) : StoreFixture(std::move(backend)) {}
  void SetUp() override { prepare("lease-store"); }
  // A store acting for `server`, its lease taken at kNow.
  std::unique_ptr<Store> server(const std::string& id) {
    auto store = open();
    auto lease = sync(store->acquire_lease(id, kNow, kTtl));
    EXPECT_TRUE(lease.ok()) << lease.error().message;
    return store;
  }
  static Job job(const std::string& jid, std::vector<std::string> targets) {
    Job job;
    job.jid = jid;
    job.operate = "execute";
    job.operate_args = {{"cmd", "true"}};
    job.targets = std::move(targets);
    job.startat = kNow;
    for (const auto& t : job.targets) job.runs[t] = TargetRun{};
    return job;
  }
  static TargetRun running() {
    TargetRun run;
    run.phase = RunPhase::Running;
    run.startat = kNow;
    return run;
  }
  static TargetRun finished(OpState state = OpState::Ok) {
    TargetRun run;
    run.phase = RunPhase::Finished;
    run.result.state = state;
    return run;
  }
};

class LeaseStoreTest : public LeaseStoreBase, public ::testing::WithParamInterface<std::string> {
 protected:
  LeaseStoreTest() : LeaseStoreBase(GetParam()) {}
};
INSTANTIATE_STORE_CONTRACT(LeaseStoreTest);

class SqliteLeaseStoreTest : public LeaseStoreBase {
 protected:
  SqliteLeaseStoreTest() : LeaseStoreBase("sqlite") {}
};

TEST_P(LeaseStoreTest, EachAcquireIsANewEpochAndRenewalNeedsTheCurrentOne) {
  auto first = open();
  auto a1 = sync(first->acquire_lease("a", kNow, kTtl));
  ASSERT_TRUE(a1.ok());
  EXPECT_EQ(a1->server, "a");
  EXPECT_TRUE(sync(first->renew_lease(kNow + 1, kTtl)).ok());

  auto second = open();  // the same server restarted
  auto a2 = sync(second->acquire_lease("a", kNow + 2, kTtl));
  ASSERT_TRUE(a2.ok());
  EXPECT_GT(a2->epoch, a1->epoch);
  auto stale = sync(first->renew_lease(kNow + 3, kTtl));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::Conflict);
  EXPECT_NE(stale.error().message.find("lease lost"), std::string::npos) << stale.error().message;
  EXPECT_TRUE(sync(second->renew_lease(kNow + 3, kTtl)).ok());
}

TEST_P(LeaseStoreTest, ALiveServersRunsAreNotTakenAndAnExpiredOnesAreWithTheirWritesRefused) {
  auto a = server("a");
  auto b = server("b");
  ASSERT_TRUE(sync(a->create_job(job("j1", {"web1", "web2"}))).ok());
  ASSERT_TRUE(sync(a->mark_started("j1", "web1", running())).ok());

  auto early = sync(b->take_over(kNow + kTtl - 1));
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty()) << "a's lease has not expired";
  auto none = sync(b->unfinished_jobs());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "b does not repair a's live work";

  auto taken = sync(b->take_over(kNow + kTtl + 1));
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 2u);
  for (const auto& run : *taken) {
    EXPECT_EQ(run.jid, "j1");
    EXPECT_EQ(run.from, "a");
  }
  auto theirs = sync(b->unfinished_jobs());
  ASSERT_TRUE(theirs.ok());
  ASSERT_EQ(theirs->size(), 1u);
  EXPECT_EQ(theirs->front().runs.at("web1").phase, RunPhase::Running);

  // a comes back from a long pause: every write it tries is refused.
  auto start = sync(a->mark_started("j1", "web2", running()));
  ASSERT_FALSE(start.ok());
  EXPECT_EQ(start.error().code, ErrorCode::Conflict);
  auto record = sync(a->record_process("j1", "web1", RunProcess{"ssh", 42, "1", "/tmp/s"}));
  EXPECT_EQ(record.ok() ? ErrorCode::Internal : record.error().code, ErrorCode::Conflict);
  a->save_result("j1", "web1", finished(OpState::Failed));
  a->append_output("j1", OutputChunk{1, "web1", OutputStream::Stdout, "from a", kNow});
  ASSERT_TRUE(sync(a->flush()).ok());
  EXPECT_EQ(sync(a->renew_lease(kNow + kTtl + 2, kTtl)).error().code, ErrorCode::Conflict);

  auto loaded = sync(b->load_job("j1", {}));
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->runs.at("web1").phase, RunPhase::Running) << "a's result was refused";
  EXPECT_TRUE(sync(b->load_output("j1", 0))->empty()) << "a's output was refused";
  EXPECT_TRUE(sync(b->load_processes("j1"))->empty());

  // b owns them now.
  ASSERT_TRUE(sync(b->mark_started("j1", "web2", running())).ok());
  b->save_result("j1", "web1", finished());
  b->save_result("j1", "web2", finished());
  Job done = job("j1", {"web1", "web2"});
  done.state = JobState::Done;
  EXPECT_TRUE(sync(b->finish_job(done)).ok());
  EXPECT_TRUE(sync(b->take_over(kNow + 100))->empty()) << "taken once";
}

TEST_P(LeaseStoreTest, ARestartedServerTakesItsEarlierLifeAndRunsStoredBeforeLeases) {
  {
    auto anonymous = open();  // a store written before leases existed
    ASSERT_TRUE(sync(anonymous->create_job(job("old", {"web1"}))).ok());
  }
  {
    auto first = server("a");
    ASSERT_TRUE(sync(first->create_job(job("j2", {"web1"}))).ok());
    ASSERT_TRUE(sync(first->mark_started("j2", "web1", running())).ok());
  }
  auto again = server("a");  // not expired: it is the same server
  auto taken = sync(again->take_over(kNow + 1));
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 2u);
  for (const auto& run : *taken) EXPECT_EQ(run.from, "") << run.jid;
  auto unfinished = sync(again->unfinished_jobs());
  ASSERT_TRUE(unfinished.ok());
  EXPECT_EQ(unfinished->size(), 2u);
}

TEST_P(LeaseStoreTest, AReleasedLeaseIsTakenOverAtOnce) {
  auto a = server("a");
  auto b = server("b");
  ASSERT_TRUE(sync(a->create_job(job("j3", {"web1"}))).ok());
  ASSERT_TRUE(sync(a->release_lease()).ok());
  auto taken = sync(b->take_over(kNow + 1));
  ASSERT_TRUE(taken.ok());
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ(taken->front().from, "a");
}

TEST_P(LeaseStoreTest, AJobEndsOnlyOnceEveryRunIsStoredFinished) {
  auto a = server("a");
  ASSERT_TRUE(sync(a->create_job(job("j4", {"web1", "web2"}))).ok());
  a->save_result("j4", "web1", finished());
  Job done = job("j4", {"web1", "web2"});
  done.state = JobState::Done;
  auto early = sync(a->finish_job(done));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::Conflict);
  a->save_result("j4", "web2", finished());
  EXPECT_TRUE(sync(a->finish_job(done)).ok());
}

TEST_P(LeaseStoreTest, AJobWhoseRunsAllFinishedButThatNeverEndedIsListedForEveryServer) {
  auto a = server("a");
  auto b = server("b");
  const double now = unix_now();
  ASSERT_TRUE(sync(a->create_job(job("j9", {"web1", "web2"}))).ok());
  TargetRun done = finished();
  done.finishat = now;
  a->save_result("j9", "web1", done);
  ASSERT_TRUE(sync(a->flush()).ok());
  EXPECT_TRUE(sync(b->unended_jobs(now + 100))->empty()) << "web2 has not finished";
  a->save_result("j9", "web2", done);
  ASSERT_TRUE(sync(a->flush()).ok());
  EXPECT_TRUE(sync(b->unended_jobs(now - 100))->empty()) << "its last run finished after the time asked";
  EXPECT_EQ(*sync(b->unended_jobs(now + 100)), std::vector<std::string>{"j9"});
  Job ended = job("j9", {"web1", "web2"});
  ended.state = JobState::Done;
  ASSERT_TRUE(sync(b->finish_job(ended)).ok());
  EXPECT_TRUE(sync(a->unended_jobs(now + 100))->empty());
}

TEST_P(LeaseStoreTest, CancelRequestsAreSeenByEveryServerWhileTheJobRuns) {
  auto a = server("a");
  auto b = server("b");
  ASSERT_TRUE(sync(a->create_job(job("j5", {"web1"}))).ok());
  auto asked = sync(b->request_cancel("j5", "stop it"));
  ASSERT_TRUE(asked.ok());
  EXPECT_TRUE(*asked);
  auto requests = sync(a->cancel_requests());
  ASSERT_TRUE(requests.ok());
  ASSERT_EQ(requests->size(), 1u);
  EXPECT_EQ(requests->front().jid, "j5");
  EXPECT_EQ(requests->front().reason, "stop it");

  a->save_result("j5", "web1", finished(OpState::Failed));
  Job ended = job("j5", {"web1"});
  ended.state = JobState::Failure;
  ASSERT_TRUE(sync(a->finish_job(ended)).ok());
  EXPECT_TRUE(sync(a->cancel_requests())->empty());
  EXPECT_FALSE(*sync(b->request_cancel("j5", "too late")));
  EXPECT_FALSE(*sync(b->request_cancel("no-such-job", "x")));
}

TEST_P(LeaseStoreTest, AServerIsToldOfWorkPlacedWithItAndOfCancelRequestsOnce) {
  using std::chrono::milliseconds;
  auto a = server("a");
  auto b = server("b");
  if (GetParam() == "sqlite") {  // servers on a file may be other processes: they poll
    EXPECT_EQ(sync(b->wait_for_news(milliseconds(0))), News::NotPushed);
    return;
  }
  EXPECT_EQ(sync(b->wait_for_news(milliseconds(50))), News::TimedOut);
  std::string target;
  for (int i = 0; target.empty(); ++i) {
    std::string name = "vm" + std::to_string(i);
    if (slot_owner(slot_of(name), {"a", "b"}) == "b") target = name;
  }
  ASSERT_TRUE(sync(a->create_job_by_target(job("told", {target}))).ok());
  // Far beyond how soon it comes, so a missing tell fails instead of waiting it out.
  EXPECT_EQ(sync(b->wait_for_news(milliseconds(20'000))), News::Told);
  EXPECT_EQ(sync(b->wait_for_news(milliseconds(50))), News::TimedOut) << "told once";
  EXPECT_EQ(sync(a->wait_for_news(milliseconds(50))), News::TimedOut) << "the creator is not told";

  ASSERT_TRUE(*sync(a->request_cancel("told", "stop")));
  EXPECT_EQ(sync(b->wait_for_news(milliseconds(20'000))), News::Told);
  EXPECT_EQ(sync(a->wait_for_news(milliseconds(20'000))), News::Told) << "every server may hold a part";
}

// A schema 1 store (no owners, no cancel requests) gains them when opened.
std::vector<std::string> numbered(const std::string& stem, int count) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back(stem + std::to_string(i));
  return names;
}

TEST_P(LeaseStoreTest, RunsArePlacedOnTheLiveOwnersOfTheirSlotsWhoAreToldOnce) {
  auto a = server("a");
  auto b = server("b");
  const auto targets = numbered("host", 64);
  auto owners = sync(a->create_job_by_target(job("p1", targets)));
  ASSERT_TRUE(owners.ok()) << owners.error().message;
  ASSERT_EQ(owners->size(), targets.size());
  std::size_t on_b = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    EXPECT_EQ((*owners)[i], slot_owner(slot_of(targets[i]), {"a", "b"})) << targets[i];
    on_b += (*owners)[i] == "b" ? 1 : 0;
  }
  EXPECT_GT(on_b, 0u);
  EXPECT_LT(on_b, targets.size());
  auto loaded = sync(b->load_job("p1", {}));
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  for (std::size_t i = 0; i < targets.size(); ++i) EXPECT_EQ((*loaded)->runs.at(targets[i]).owner, (*owners)[i]);

  auto told = sync(b->take_inbox());
  ASSERT_TRUE(told.ok()) << told.error().message;
  ASSERT_EQ(told->size(), 1u);
  EXPECT_EQ(told->front().jid, "p1");
  EXPECT_EQ(told->front().target, "");
  EXPECT_TRUE(sync(b->take_inbox())->empty()) << "each entry once";
  EXPECT_TRUE(sync(a->take_inbox())->empty()) << "the creator is not told about its own runs";

  // b's runs are b's: its writes land, a's are refused.
  const std::string b_target = targets[std::find(owners->begin(), owners->end(), "b") - owners->begin()];
  EXPECT_TRUE(sync(b->mark_started("p1", b_target, running())).ok());
  EXPECT_EQ(sync(a->mark_started("p1", b_target, running())).error().code, ErrorCode::Conflict);
}

TEST_P(LeaseStoreTest, ATargetWithUnfinishedRunsStaysWithTheirOwner) {
  auto a = server("a");
  auto b = server("b");
  const auto targets = numbered("web", 16);
  ASSERT_TRUE(sync(a->create_job(job("whole", targets))).ok());  // every run a's
  auto owners = sync(b->create_job_by_target(job("next", targets)));
  ASSERT_TRUE(owners.ok()) << owners.error().message;
  for (const auto& owner : *owners) EXPECT_EQ(owner, "a") << "a has unfinished work on the target";
  auto told = sync(a->take_inbox());
  ASSERT_TRUE(told.ok());
  ASSERT_EQ(told->size(), 1u);
  EXPECT_EQ(told->front().jid, "next");

  for (const auto& target : targets) {
    a->save_result("whole", target, finished());
    a->save_result("next", target, finished());
  }
  ASSERT_TRUE(sync(a->flush()).ok());
  auto later = sync(b->create_job_by_target(job("later", targets)));
  ASSERT_TRUE(later.ok());
  for (std::size_t i = 0; i < targets.size(); ++i)
    EXPECT_EQ((*later)[i], slot_owner(slot_of(targets[i]), {"a", "b"})) << "idle targets go by slot";
}

TEST_P(LeaseStoreTest, ServersWhoseLeaseExpiredGetNoNewWork) {
  auto a = server("a");
  auto b = server("b");
  ASSERT_TRUE(sync(a->renew_lease(kNow + kTtl, kTtl)).ok());
  Job late = job("late", numbered("db", 32));
  late.startat = kNow + kTtl + 1;  // b's lease has expired by then
  auto owners = sync(a->create_job_by_target(late));
  ASSERT_TRUE(owners.ok());
  for (const auto& owner : *owners) EXPECT_EQ(owner, "a");
  EXPECT_TRUE(sync(b->take_inbox())->empty());
}

TEST_P(LeaseStoreTest, AnExpiredServersRunsGoToTheLiveOwnersOfTheirSlots) {
  auto a = server("a");
  auto b = server("b");
  auto c = server("c");
  const auto targets = numbered("vm", 48);
  ASSERT_TRUE(sync(a->create_job(job("orphaned", targets))).ok());
  ASSERT_TRUE(sync(a->mark_started("orphaned", targets[0], running())).ok());
  const double later = kNow + kTtl + 1;
  ASSERT_TRUE(sync(b->renew_lease(kNow + kTtl, kTtl)).ok());
  ASSERT_TRUE(sync(c->renew_lease(kNow + kTtl, kTtl)).ok());

  auto mine = sync(b->take_over(later));
  ASSERT_TRUE(mine.ok()) << mine.error().message;
  auto told = sync(c->take_inbox());
  ASSERT_TRUE(told.ok());
  std::set<std::string> seen;
  for (const auto& run : *mine) {
    EXPECT_EQ(slot_owner(slot_of(run.target), {"b", "c"}), "b") << run.target;
    EXPECT_EQ(run.from, "a");
    EXPECT_TRUE(seen.insert(run.target).second);
  }
  for (const auto& run : *told) {
    EXPECT_EQ(run.jid, "orphaned");
    EXPECT_EQ(slot_owner(slot_of(run.target), {"b", "c"}), "c") << run.target;
    EXPECT_EQ(run.from, "a");
    EXPECT_TRUE(seen.insert(run.target).second);
  }
  EXPECT_EQ(seen.size(), targets.size()) << "every run placed once";
  EXPECT_FALSE(mine->empty());
  EXPECT_FALSE(told->empty());

  auto loaded = sync(c->load_job("orphaned", {}));
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  for (const auto& target : targets)
    EXPECT_EQ((*loaded)->runs.at(target).owner, slot_owner(slot_of(target), {"b", "c"}));
  EXPECT_EQ(sync(a->mark_started("orphaned", targets[1], running())).error().code, ErrorCode::Conflict);
  EXPECT_TRUE(sync(c->take_over(later))->empty()) << "a's runs are placed once";
}

TEST_P(LeaseStoreTest, ADeadServersInboxIsEmptiedAsItsRunsAreSharedOut) {
  auto a = server("a");
  auto b = server("b");
  std::string target;
  for (int i = 0; target.empty(); ++i) {
    std::string name = "vm" + std::to_string(i);
    if (slot_owner(slot_of(name), {"a", "b"}) == "a") target = name;
  }
  auto owners = sync(b->create_job_by_target(job("placed", {target})));
  ASSERT_TRUE(owners.ok()) << owners.error().message;
  EXPECT_EQ(*owners, std::vector<std::string>{"a"});
  ASSERT_TRUE(sync(b->renew_lease(kNow + kTtl, kTtl)).ok());

  auto taken = sync(b->take_over(kNow + kTtl + 1));
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].target, target);
  EXPECT_EQ((*taken)[0].from, "a");
  EXPECT_TRUE(sync(a->take_inbox())->empty()) << "nothing is left for the dead server";
}

TEST_F(SqliteLeaseStoreTest, Schema1StoreGainsOwnersAndItsRunsAreTakenOver) {
  fs::create_directories(dir_);
  {
    auto store = open();
    ASSERT_TRUE(sync(store->create_job(job("v1", {"web1"}))).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "steward.db").c_str(), &db), SQLITE_OK);
  // Rebuild the tables without the new columns, as schema 1 had them.
  const char* downgrade =
      "CREATE TABLE runs_old AS SELECT jid, target, position, phase, status, rtc, signal, stdout_truncated, "
      "stderr_truncated, facts, error, startat, finishat, queue_wait, stdout_size, stderr_size, stdout_tail, "
      "stderr_tail, stdout, stderr FROM runs; DROP TABLE runs; ALTER TABLE runs_old RENAME TO runs;"
      "CREATE TABLE jobs_old AS SELECT jid, state, error, startat, finishat, operate, operate_args, targets "
      "FROM jobs; DROP TABLE jobs; ALTER TABLE jobs_old RENAME TO jobs; DROP TABLE servers; PRAGMA user_version=1;";
  ASSERT_EQ(sqlite3_exec(db, downgrade, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);

  auto a = server("a");
  auto taken = sync(a->take_over(kNow));
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_TRUE(*sync(a->request_cancel("v1", "works")));
  EXPECT_TRUE(sync(a->mark_started("v1", "web1", running())).ok());
}

}  // namespace
}  // namespace steward::store
