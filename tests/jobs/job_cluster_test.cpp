// Two servers on one store (README "Servers and leases"), a SQLite file or a
// redis-server of the test's own: JobService A is the fixture's, B a second
// one with its own store connection and scheduler. They share the loop and
// the fake transport, as two servers share targets.
#include <set>

#include "jobs/job_service_fixture.hpp"
#include "store/placement.hpp"
#include "support/redis_server.hpp"

namespace steward::jobs::testing {
namespace {

constexpr double kLeaseTtl = 10;

// A target name from `stem` whose slot belongs to `server` while a and b are live.
std::string owned_by(const std::string& server, const std::string& stem) {
  for (int i = 0;; ++i) {
    std::string name = stem + std::to_string(i);
    if (store::slot_owner(store::slot_of(name), {"a", "b"}) == server) return name;
  }
}

class JobClusterTest : public JobServiceTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    JobServiceTest::SetUp();
    if (GetParam() == "redis") {
      if (!steward::testing::RedisServer::installed()) GTEST_SKIP() << "redis-server is not installed";
      ::signal(SIGPIPE, SIG_IGN);  // as `steward serve` does
      redis_ = std::make_unique<steward::testing::RedisServer>(dir_ / "redis");
      ASSERT_TRUE(redis_->start());
      service_.reset();  // A moves from the fixture's SQLite file to the Redis
      store_ = open_shared();
      ASSERT_TRUE(store_);
      service_ = make_service();
    }
    store_b_ = open_shared();
    ASSERT_TRUE(store_b_);
    scheduler_b_ = std::make_unique<sched::Scheduler>(io_.get_executor(), clock_, /*max_connections=*/8);
    service_b_ = std::make_unique<JobService>(
        io_.get_executor(), *store_b_, *scheduler_b_, transports_, ops_,
        [](const std::string& name) -> Result<Target> { return fake_target(name); });
    ASSERT_TRUE(await(service_->take_lease({"a", kLeaseTtl})).ok());
    ASSERT_TRUE(await(service_b_->take_lease({"b", kLeaseTtl})).ok());
  }

  void TearDown() override {
    if (service_b_)
      for (const auto& jid : submitted_) (void)await(service_b_->cancel(jid, "test teardown"));
    JobServiceTest::TearDown();
    service_b_.reset();
    scheduler_b_.reset();
    store_b_.reset();
    redis_.reset();
  }

  bool store_keeps_loop_busy() const override { return redis_ != nullptr; }
  bool anything_live() const override {
    return JobServiceTest::anything_live() ||
           std::any_of(submitted_.begin(), submitted_.end(),
                       [&](const std::string& jid) { return service_b_ && service_b_->is_live(jid); });
  }

  // Another connection to the store A uses.
  std::unique_ptr<store::Store> open_shared() {
    auto opened = store::open_store({redis_ ? redis_->url() : "", dir_.string(), io_.get_executor()});
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  // Starts `task` on the loop; the returned slot holds its result once it completes.
  template <typename T>
  std::shared_ptr<std::optional<T>> start(asio::awaitable<T> task) {
    auto slot = std::make_shared<std::optional<T>>();
    asio::co_spawn(io_, std::move(task), [slot](std::exception_ptr e, T value) {
      if (e) std::rethrow_exception(e);
      slot->emplace(std::move(value));
    });
    return slot;
  }

  std::unique_ptr<steward::testing::RedisServer> redis_;
  std::unique_ptr<store::Store> store_b_;
  std::unique_ptr<sched::Scheduler> scheduler_b_;
  std::unique_ptr<JobService> service_b_;
};
INSTANTIATE_TEST_SUITE_P(Stores, JobClusterTest, ::testing::Values(std::string("sqlite"), std::string("redis")),
                         [](const auto& info) { return info.param; });

TEST_P(JobClusterTest, CancelThroughAServerThatDoesNotRunTheJobStopsItsProcessOnTheOwner) {
  const std::string busy = owned_by("a", "busy");
  fake_->script(busy, FakeScript::hangs());
  std::string jid = submit(execute_request({fake_target(busy)}));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 1; }));
  EXPECT_FALSE(service_b_->is_live(jid));

  const std::string reason = "stopped from b";  // cancel() keeps references: they must outlive it
  auto cancelled = start(service_b_->cancel(jid, reason));
  // A acts on requests in its keep_lease loop; here by hand until the request has landed.
  for (int round = 0; round < 100 && fake_->cancelled().empty(); ++round) {
    ASSERT_TRUE(await_void(service_->act_on_cancel_requests()));
    pump_until([] { return false; }, 50ms);
  }
  EXPECT_EQ(fake_->cancelled(), (std::vector<std::string>{busy}));
  EXPECT_EQ(fake_->cancel_reasons(), (std::vector<std::string>{"stopped from b"}));
  ASSERT_TRUE(pump_until([&] { return cancelled->has_value(); }));
  ASSERT_TRUE((*cancelled)->ok()) << (*cancelled)->error().message;
  const Job& job = ***cancelled;
  EXPECT_EQ(job.state, JobState::Failure);
  EXPECT_NE(job.error.find("stopped from b"), std::string::npos) << job.error;
  EXPECT_EQ(job.runs.at(busy).result.state, OpState::Failed);
}

TEST_P(JobClusterTest, AFollowerOnAnotherServerGetsOutputResultsAndTheEnd) {
  const std::string web = owned_by("a", "web");
  fake_->script(web, FakeScript::exits(0, {"one\n", "two\n"}).after(400ms));
  std::string jid = submit(execute_request({fake_target(web)}));
  auto followed = await(service_b_->subscribe(jid, /*with_output=*/true));
  ASSERT_TRUE(followed.ok()) << followed.error().message;
  auto events = collect(*followed);
  ASSERT_FALSE(events.empty());
  std::string output;
  std::size_t results = 0;
  for (const auto& event : events) {
    if (event.kind == JobEvent::Kind::Output) output += event.chunk.data;
    if (event.kind == JobEvent::Kind::Result) {
      ++results;
      EXPECT_EQ(event.target, web);
      EXPECT_EQ(event.run.result.state, OpState::Changed);  // what execute reports for exit 0
    }
  }
  EXPECT_EQ(output, "one\ntwo\n");
  EXPECT_EQ(results, 1u);
  EXPECT_EQ(events.back().kind, JobEvent::Kind::Done);
  EXPECT_EQ(events.back().job.state, JobState::Done);

  auto waited = await(service_b_->wait(jid, std::chrono::steady_clock::now() + 5s));
  ASSERT_TRUE(waited.ok());
  EXPECT_EQ(waited->state, JobState::Done);
}

TEST_P(JobClusterTest, AnExpiredServersWorkIsTakenOverOnceAndItsOwnWritesAreRefused) {
  const std::string h = owned_by("a", "h");
  fake_->script(h, FakeScript::hangs());
  std::string first = submit(execute_request({fake_target(h)}));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 1; }));
  std::string second = submit(execute_request({fake_target(h)}));  // waits for h on A
  fake_->script(h, FakeScript::exits(0, {"by b\n"}));

  // A stops renewing; once its lease has expired, B takes its work.
  ASSERT_TRUE(await_void(service_b_->keep_lease_once(unix_now() + kLeaseTtl + 1)));
  auto second_done = await(service_b_->wait(second, std::chrono::steady_clock::now() + 5s));
  ASSERT_TRUE(second_done.ok()) << second_done.error().message;
  EXPECT_EQ(second_done->state, JobState::Done);
  EXPECT_EQ(second_done->runs.at(h).owner, "b");
  EXPECT_EQ(second_done->runs.at(h).result.stdout_data, "by b\n");

  auto first_stored = stored(first);
  ASSERT_TRUE(first_stored.has_value());
  EXPECT_EQ(first_stored->state, JobState::Failure);
  EXPECT_EQ(first_stored->runs.at(h).result.error, "interrupted: server a lost");

  // A wakes up: its renewal fails, it drops its work and stops its process;
  // nothing it writes lands.
  ASSERT_TRUE(await_void(service_->keep_lease_once(unix_now())));
  EXPECT_EQ(fake_->cancelled(), (std::vector<std::string>{h}));
  EXPECT_FALSE(service_->is_live(first));
  EXPECT_FALSE(service_->is_live(second));
  pump_until([] { return false; }, 300ms);
  EXPECT_EQ(fake_->calls_to(h), 2u) << "the second job ran once, on B";
  auto after = stored(first);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->runs.at(h).result.error, "interrupted: server a lost");
  auto second_after = stored(second);
  ASSERT_TRUE(second_after.has_value());
  EXPECT_EQ(second_after->state, JobState::Done);
}


// A died between storing the job's last result and ending it: B ends the
// job once a lease's time has passed, in the state the stored results make.
TEST_P(JobClusterTest, AJobWhoseServerDiedAfterItsLastResultIsEndedByAnother) {
  Job job;
  job.jid = "left-running";
  job.operate = "execute";
  job.operate_args = {{"cmd", "true"}};
  job.targets = {owned_by("a", "h"), owned_by("a", "g")};
  job.startat = unix_now();
  for (const auto& t : job.targets) job.runs[t] = TargetRun{};
  ASSERT_TRUE(await(store_->create_job(job)).ok());
  for (const auto& [t, state] : {std::pair{job.targets[0], OpState::Ok}, std::pair{job.targets[1], OpState::Failed}}) {
    TargetRun run;
    run.phase = RunPhase::Finished;
    run.result.state = state;
    run.finishat = unix_now();
    store_->save_result(job.jid, t, run);
  }
  ASSERT_TRUE(await(store_->flush()).ok());

  ASSERT_TRUE(await_void(service_b_->keep_lease_once(unix_now())));
  EXPECT_EQ(stored(job.jid)->state, JobState::Running) << "its server may still be ending it";
  ASSERT_TRUE(await_void(service_b_->keep_lease_once(unix_now() + kLeaseTtl + 1)));
  auto ended = stored(job.jid);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->state, JobState::Failure);
  EXPECT_GT(ended->finishat, 0);
  EXPECT_TRUE(await(store_b_->unended_jobs(unix_now() + 100))->empty());
}

TEST_P(JobClusterTest, EachRunGoesToTheServerThatOwnsItsTargetAndTheJobEndsOnce) {
  const std::vector<std::string> on_a{owned_by("a", "left"), owned_by("a", "port")};
  const std::vector<std::string> on_b{owned_by("b", "right"), owned_by("b", "star")};
  std::vector<Target> targets;
  for (const auto& name : {on_a[0], on_b[0], on_a[1], on_b[1]}) {
    fake_->script(name, FakeScript::exits(0, {name + "\n"}));
    targets.push_back(fake_target(name));
  }
  std::string jid = submit(execute_request(targets));
  pump_until([] { return false; }, 200ms);
  for (const auto& name : on_b) EXPECT_EQ(fake_->calls_to(name), 0u) << name << " waits for b";

  ASSERT_TRUE(await_void(service_b_->take_inbox_once()));
  auto done = await(service_->wait(jid, std::chrono::steady_clock::now() + 5s));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->state, JobState::Done) << done->error;
  for (const auto& [names, owner] : {std::pair{on_a, "a"}, std::pair{on_b, "b"}}) {
    for (const auto& name : names) {
      EXPECT_EQ(done->runs.at(name).owner, owner) << name;
      EXPECT_EQ(done->runs.at(name).result.stdout_data, name + "\n");
      EXPECT_EQ(fake_->calls_to(name), 1u) << name;
    }
  }
  EXPECT_FALSE(service_->is_live(jid));
  EXPECT_FALSE(service_b_->is_live(jid));
  auto on_b_view = await(service_b_->wait(jid, std::chrono::steady_clock::now() + 1s));
  ASSERT_TRUE(on_b_view.ok());
  EXPECT_EQ(on_b_view->state, JobState::Done);
  auto chunks = await(store_->load_output(jid, 0));
  ASSERT_TRUE(chunks.ok());
  std::set<std::uint64_t> seqs;
  for (const auto& chunk : *chunks) seqs.insert(chunk.seq);
  EXPECT_EQ(chunks->size(), 4u) << "both servers' output, none overwritten";
  EXPECT_EQ(seqs.size(), chunks->size());
}

TEST_P(JobClusterTest, ATargetBusyOnOneServerGetsNewWorkThereWhicheverServerTakesTheJob) {
  const std::string target = owned_by("b", "db");  // by its slot, b's
  fake_->script(target, FakeScript::hangs());
  auto batched = execute_request({fake_target(target)});
  batched.args["batch"] = 1;  // a rolled-out job stays whole on the server that takes it
  std::string first = submit(std::move(batched));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 1; }));

  auto second = await(service_b_->submit(execute_request({fake_target(target)})));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_FALSE(service_b_->is_live(*second)) << "the target is busy on a";
  ASSERT_TRUE(await_void(service_->take_inbox_once()));
  EXPECT_TRUE(service_->is_live(*second));
  pump_until([] { return false; }, 200ms);
  EXPECT_EQ(fake_->calls_to(target), 1u) << "the second job waits for the first on a";

  fake_->script(target, FakeScript::exits(0, {"second\n"}));
  const std::string reason = "make room";
  ASSERT_TRUE(await(service_->cancel(first, reason)).ok());
  auto done = await(service_->wait(*second, std::chrono::steady_clock::now() + 5s));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->state, JobState::Done) << done->error;
  EXPECT_EQ(done->runs.at(target).owner, "a");
  EXPECT_EQ(fake_->calls_to(target), 2u);
}

TEST_P(JobClusterTest, CancelEndsEveryServersPartOfTheJob) {
  const std::string here = owned_by("a", "alpha");
  const std::string there = owned_by("b", "beta");
  for (const auto& name : {here, there}) fake_->script(name, FakeScript::hangs());
  std::string jid = submit(execute_request({fake_target(here), fake_target(there)}));
  ASSERT_TRUE(await_void(service_b_->take_inbox_once()));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 2; }));

  const std::string reason = "enough";
  auto cancelled = start(service_->cancel(jid, reason));
  for (int round = 0; round < 100 && fake_->cancelled().size() < 2; ++round) {
    ASSERT_TRUE(await_void(service_b_->act_on_cancel_requests()));
    pump_until([] { return false; }, 50ms);
  }
  EXPECT_EQ(fake_->cancelled().size(), 2u);
  ASSERT_TRUE(pump_until([&] { return cancelled->has_value(); }));
  ASSERT_TRUE((*cancelled)->ok()) << (*cancelled)->error().message;
  const Job& job = ***cancelled;
  EXPECT_EQ(job.state, JobState::Failure);
  EXPECT_EQ(job.error, "cancelled: enough");
  for (const auto& name : {here, there}) EXPECT_EQ(job.runs.at(name).result.state, OpState::Failed) << name;
}

}  // namespace
}  // namespace steward::jobs::testing
