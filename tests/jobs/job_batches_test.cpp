// Batched operations (one run for a job's targets) and operations exclusive
// per host (a second job is refused, or queued on request), on the JobService
// with a scripted fake operation.
#include <gtest/gtest.h>

#include "core/signal.hpp"
#include "jobs/job_service_fixture.hpp"

namespace steward::jobs {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using steward::testing::FakeScript;
using testing::execute_request;
using testing::fake_target;

// One call of run_batch (or of run(), as a batch of one), held open until the
// test releases it or the job is cancelled.
struct FakeRun {
  std::vector<std::string> targets;
  std::function<void(const std::string&, OpResult)> report;
  bool released = false;
  bool ended = false;
  Signal wake;
};

// Batched unless its arguments hold "single"; exclusive per host when asked.
// Its validate refuses any argument but "single" and "note", so a "queue" that
// reached it would show.
class FakeBatchOp final : public ops::Operation, public ops::BatchRunner {
 public:
  explicit FakeBatchOp(bool exclusive) : exclusive_(exclusive) {}

  const ops::BatchRunner* batched(const boost::json::object& args) const override {
    return args.contains("single") ? nullptr : this;
  }
  bool exclusive_per_host() const override { return exclusive_; }

  Status validate(const boost::json::object& args) const override {
    for (const auto& [key, _] : args) {
      if (key != "single" && key != "note")
        return make_error(ErrorCode::InvalidArgument, "unexpected " + std::string(key));
    }
    return {};
  }

  asio::awaitable<OpResult> run(ops::OpContext context, const boost::json::object& args) const override {
    OpResult result;
    ops::BatchContext one{{context.target}, [&result](const std::string&, OpResult r) { result = std::move(r); },
                          context.cancel};
    auto running = run_batch(std::move(one), args);
    co_await std::move(running);
    co_return result;
  }

  asio::awaitable<void> run_batch(ops::BatchContext context, const boost::json::object&) const override {
    auto run = std::make_shared<FakeRun>();
    for (const auto& target : context.targets) run->targets.push_back(target.name);
    run->report = context.on_result;
    runs_.push_back(run);
    auto registration = context.cancel->on_cancel([run] { run->wake.notify_all(); });
    while (!run->released && !context.cancel->cancelled())
      co_await run->wake.wait_until(std::chrono::steady_clock::time_point::max());
    run->ended = true;
  }

  const std::vector<std::shared_ptr<FakeRun>>& runs() const { return runs_; }

 private:
  bool exclusive_;
  mutable std::vector<std::shared_ptr<FakeRun>> runs_;
};

OpResult with_state(OpState state) {
  OpResult result;
  result.state = state;
  return result;
}

class JobBatchesTest : public testing::JobServiceTest {
 protected:
  void SetUp() override {
    JobServiceTest::SetUp();
    auto batch = std::make_unique<FakeBatchOp>(false);
    auto exclusive = std::make_unique<FakeBatchOp>(true);
    batch_ = batch.get();
    exclusive_ = exclusive.get();
    EXPECT_TRUE(ops_.add("batch", std::move(batch)).ok());
    EXPECT_TRUE(ops_.add("exclusive", std::move(exclusive)).ok());
  }

  // A fresh scheduler with `max_connections`, and a service on it.
  void restart_with(int max_connections) {
    service_.reset();
    scheduler_ = std::make_unique<sched::Scheduler>(io_.get_executor(), clock_, max_connections);
    service_ = make_service();
  }

  static JobRequest request(std::string operate, std::vector<Target> targets, boost::json::object args = {}) {
    return JobRequest{std::move(operate), std::move(args), std::move(targets)};
  }

  static std::vector<Target> targets(std::initializer_list<const char*> names) {
    std::vector<Target> out;
    for (const char* name : names) out.push_back(fake_target(name));
    return out;
  }

  Job live(const std::string& jid) {
    auto job = await(service_->get(jid));
    EXPECT_TRUE(job.ok()) << job.error().message;
    return job.ok() ? *job : Job{};
  }

  void release(const std::shared_ptr<FakeRun>& run) {
    run->released = true;
    run->wake.notify_all();
  }

  FakeBatchOp* batch_ = nullptr;
  FakeBatchOp* exclusive_ = nullptr;
};

// ------------------------------------------------------------------ batches

TEST_F(JobBatchesTest, OneRunForAllTargetsAndEachResultAsItArrives) {
  std::string jid = submit(request("batch", targets({"a", "b", "c"})));
  ASSERT_TRUE(pump_until([&] { return batch_->runs().size() == 1; }));
  auto run = batch_->runs()[0];
  EXPECT_EQ(run->targets, (std::vector<std::string>{"a", "b", "c"}));
  for (const auto& name : {"a", "b", "c"}) EXPECT_EQ(live(jid).runs.at(name).phase, RunPhase::Running);

  run->report("b", with_state(OpState::Changed));
  ASSERT_TRUE(pump_until([&] { return live(jid).runs.at("b").phase == RunPhase::Finished; }));
  Job midway = live(jid);
  EXPECT_EQ(midway.runs.at("b").result.state, OpState::Changed);
  EXPECT_EQ(midway.runs.at("a").phase, RunPhase::Running);
  EXPECT_EQ(midway.state, JobState::Running);

  run->report("a", with_state(OpState::Ok));
  run->report("c", with_state(OpState::Unreachable));
  release(run);
  Job done = wait_done(jid);
  EXPECT_EQ(done.state, JobState::Failure);
  EXPECT_EQ(done.runs.at("a").result.state, OpState::Ok);
  EXPECT_EQ(done.runs.at("c").result.state, OpState::Unreachable);
  EXPECT_EQ(batch_->runs().size(), 1u);
  drain();
}

TEST_F(JobBatchesTest, TargetsTheRunDoesNotReportFail) {
  std::string jid = submit(request("batch", targets({"a", "b"})));
  ASSERT_TRUE(pump_until([&] { return batch_->runs().size() == 1; }));
  batch_->runs()[0]->report("a", with_state(OpState::Ok));
  release(batch_->runs()[0]);
  Job done = wait_done(jid);
  EXPECT_EQ(done.runs.at("a").result.state, OpState::Ok);
  EXPECT_EQ(done.runs.at("b").result.state, OpState::Failed);
  EXPECT_EQ(done.runs.at("b").result.error, "the run ended without a result for it");
  drain();
}

TEST_F(JobBatchesTest, ArgumentsThatAreNotBatchedRunPerTarget) {
  std::string jid = submit(request("batch", targets({"a", "b"}), {{"single", true}}));
  ASSERT_TRUE(pump_until([&] { return batch_->runs().size() == 2; }));
  for (const auto& run : batch_->runs()) {
    EXPECT_EQ(run->targets.size(), 1u);
    run->report(run->targets[0], with_state(OpState::Ok));
    release(run);
  }
  EXPECT_EQ(wait_done(jid).state, JobState::Done);
  drain();
}

TEST_F(JobBatchesTest, TheRunWaitsForABusyTargetAndHoldsEachSlotUntilItsResult) {
  fake_->script("b", FakeScript::exits(0, {"first\n"}).after(50ms));
  std::string before = submit(execute_request({fake_target("b")}));
  std::string jid = submit(request("batch", targets({"a", "b"})));
  ASSERT_TRUE(pump_until([&] { return live(before).state != JobState::Running; }));
  ASSERT_TRUE(pump_until([&] { return batch_->runs().size() == 1; }));
  EXPECT_EQ(batch_->runs()[0]->targets, (std::vector<std::string>{"a", "b"}))
      << "a waited for b instead of running alone";

  // While the run holds b, other work on b waits, even after b's result:
  // the run may still act on b (handlers, `always` blocks) until it ends.
  fake_->script("b", FakeScript::exits(0, {"after\n"}));
  std::string after = submit(execute_request({fake_target("b")}));
  pump_until([] { return false; }, 30ms);
  EXPECT_EQ(fake_->calls_to("b"), 1u);
  batch_->runs()[0]->report("b", with_state(OpState::Ok));
  pump_until([] { return false; }, 30ms);
  EXPECT_EQ(live(jid).runs.at("b").phase, RunPhase::Finished) << "b's result is published at once";
  EXPECT_EQ(live(jid).runs.at("a").phase, RunPhase::Running) << "a is still in the run";
  EXPECT_EQ(fake_->calls_to("b"), 1u) << "b's slot was freed before the run ended";

  batch_->runs()[0]->report("a", with_state(OpState::Ok));
  pump_until([] { return false; }, 30ms);
  EXPECT_EQ(live(jid).state, JobState::Running) << "the job ended before its run";
  release(batch_->runs()[0]);
  EXPECT_EQ(wait_done(jid).state, JobState::Done);
  EXPECT_EQ(wait_done(after).state, JobState::Done);
  drain();
}

TEST_F(JobBatchesTest, MoreTargetsThanConnectionsRunInSeveralBatches) {
  restart_with(2);
  std::string jid = submit(request("batch", targets({"a", "b", "c"})));
  ASSERT_TRUE(pump_until([&] { return batch_->runs().size() == 1; }));
  auto first = batch_->runs()[0];
  EXPECT_EQ(first->targets, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(live(jid).runs.at("c").phase, RunPhase::Pending);
  first->report("a", with_state(OpState::Ok));
  first->report("b", with_state(OpState::Ok));
  release(first);

  ASSERT_TRUE(pump_until([&] { return batch_->runs().size() == 2; }));
  auto second = batch_->runs()[1];
  EXPECT_EQ(second->targets, (std::vector<std::string>{"c"}));
  second->report("c", with_state(OpState::Changed));
  release(second);
  EXPECT_EQ(wait_done(jid).state, JobState::Done);
  drain();
}

TEST_F(JobBatchesTest, SaturationByOtherWorkDoesNotSplitTheBatch) {
  restart_with(2);
  fake_->script("x", FakeScript::exits(0).after(50ms));
  std::string other = submit(execute_request({fake_target("x")}));
  std::string jid = submit(request("batch", targets({"a", "b"})));
  ASSERT_TRUE(pump_until([&] { return live(other).state != JobState::Running; }));
  ASSERT_TRUE(pump_until([&] { return batch_->runs().size() == 1; }));
  EXPECT_EQ(batch_->runs()[0]->targets, (std::vector<std::string>{"a", "b"}));
  batch_->runs()[0]->report("a", with_state(OpState::Ok));
  batch_->runs()[0]->report("b", with_state(OpState::Ok));
  release(batch_->runs()[0]);
  EXPECT_EQ(wait_done(jid).state, JobState::Done);
  drain();
}

TEST_F(JobBatchesTest, CancelEndsTheRunAndSkipsTargetsStillWaiting) {
  fake_->script("busy", FakeScript::hangs());
  std::string blocker = submit(execute_request({fake_target("busy")}));
  std::string waiting = submit(request("batch", targets({"a", "busy"})));
  std::string running = submit(request("batch", targets({"c", "d"})));
  ASSERT_TRUE(pump_until([&] { return batch_->runs().size() == 1; }));
  ASSERT_EQ(batch_->runs()[0]->targets, (std::vector<std::string>{"c", "d"}));
  batch_->runs()[0]->report("c", with_state(OpState::Ok));

  auto cancelled = await(service_->cancel(running, "stop it"));
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
  EXPECT_TRUE(batch_->runs()[0]->ended) << "the one run was stopped";
  EXPECT_EQ(cancelled->runs.at("c").result.state, OpState::Ok);
  EXPECT_EQ(cancelled->runs.at("d").result.state, OpState::Failed);
  EXPECT_EQ(cancelled->runs.at("d").result.error, "cancelled: stop it");

  // "a" holds its slot waiting for "busy": the cancel skips it and frees the slot.
  ASSERT_EQ(live(waiting).runs.at("a").phase, RunPhase::Pending);
  auto skipped = await(service_->cancel(waiting, "never mind"));
  ASSERT_TRUE(skipped.ok()) << skipped.error().message;
  EXPECT_EQ(skipped->state, JobState::Failure);
  EXPECT_EQ(skipped->runs.at("a").result.state, OpState::Skipped);
  EXPECT_EQ(batch_->runs().size(), 1u);
  fake_->script("a", FakeScript::exits(0));
  EXPECT_EQ(wait_done(submit(execute_request({fake_target("a")}))).state, JobState::Done);

  ASSERT_TRUE(await(service_->cancel(blocker, "cleanup")).ok());
  drain();
  EXPECT_EQ(batch_->runs().size(), 1u);
}

Job hand_made_batch_job(const std::string& jid, const std::vector<std::string>& targets) {
  Job job;
  job.jid = jid;
  job.startat = unix_now();
  job.operate = "batch";
  job.targets = targets;
  for (const auto& name : targets) job.runs[name] = TargetRun{};
  return job;
}

TEST_F(JobBatchesTest, RecoveryRunsThePendingTargetsInOneRun) {
  const std::string jid = "20260101000000000002";
  ASSERT_TRUE(await(store_->create_job(hand_made_batch_job(jid, {"was_running", "p1", "p2"}))).ok());
  TargetRun running;
  running.phase = RunPhase::Running;
  store_->save_result(jid, "was_running", running);
  ASSERT_TRUE(await(store_->flush()).ok());

  service_ = make_service();
  ASSERT_TRUE(await(service_->recover()).ok());
  ASSERT_TRUE(pump_until([&] { return batch_->runs().size() == 1; }));
  EXPECT_EQ(batch_->runs()[0]->targets, (std::vector<std::string>{"p1", "p2"}));
  batch_->runs()[0]->report("p1", with_state(OpState::Ok));
  batch_->runs()[0]->report("p2", with_state(OpState::Ok));
  release(batch_->runs()[0]);
  Job done = wait_done(jid);
  EXPECT_EQ(done.runs.at("was_running").result.error,
            "outcome unknown: server restarted; it was running, and no command of it was recorded");
  EXPECT_EQ(done.runs.at("p2").result.state, OpState::Ok);
  drain();
}

TEST_F(JobBatchesTest, ShutdownLeavesTargetsThatWaitForTheirBatchPending) {
  fake_->script("busy", FakeScript::hangs());
  std::string blocker = submit(execute_request({fake_target("busy")}));
  std::string jid = submit(request("batch", targets({"a", "busy"})));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 1; }));
  pump_until([] { return false; }, 20ms);
  ASSERT_TRUE(await_void(service_->shutdown(50ms)));
  drain();
  auto saved = stored(jid);
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->runs.at("a").phase, RunPhase::Pending);
  EXPECT_EQ(saved->runs.at("busy").phase, RunPhase::Pending);
  EXPECT_TRUE(batch_->runs().empty());
  auto interrupted = stored(blocker);
  ASSERT_TRUE(interrupted.has_value());
  EXPECT_EQ(interrupted->runs.at("busy").result.state, OpState::Failed);
  submitted_.clear();
}

// ---------------------------------------------------------------- exclusive

TEST_F(JobBatchesTest, ASecondExclusiveJobOnABusyHostIsAConflictNamingIt) {
  std::string first = submit(request("exclusive", targets({"a", "b"})));
  ASSERT_TRUE(pump_until([&] { return exclusive_->runs().size() == 1; }));

  auto refused = await(service_->submit(request("exclusive", targets({"b", "c"}))));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::Conflict);
  EXPECT_NE(refused.error().message.find("operate conflict"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("b (job " + first + ")"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().message.find("c (job"), std::string::npos) << refused.error().message;

  // Elsewhere, and for operations that are not exclusive, nothing changes.
  std::string elsewhere = submit(request("exclusive", targets({"c"})));
  ASSERT_TRUE(pump_until([&] { return exclusive_->runs().size() == 2; }));
  std::string not_exclusive = submit(request("batch", targets({"b"})));
  EXPECT_FALSE(not_exclusive.empty());

  for (const auto& run : exclusive_->runs()) {
    for (const auto& name : run->targets) run->report(name, with_state(OpState::Ok));
    release(run);
  }
  EXPECT_EQ(wait_done(first).state, JobState::Done);
  EXPECT_EQ(wait_done(elsewhere).state, JobState::Done);
  ASSERT_TRUE(pump_until([&] { return batch_->runs().size() == 1; }));
  batch_->runs()[0]->report("b", with_state(OpState::Ok));
  release(batch_->runs()[0]);
  EXPECT_EQ(wait_done(not_exclusive).state, JobState::Done);

  // Once the first job is over, the host is free again.
  std::string again = submit(request("exclusive", targets({"b"})));
  ASSERT_TRUE(pump_until([&] { return exclusive_->runs().size() == 3; }));
  release(exclusive_->runs()[2]);
  wait_done(again);
  drain();
}

TEST_F(JobBatchesTest, QueueTakesItsTurnAfterTheJobsBeforeIt) {
  // Four sessions on the host: only the lanes keep the jobs apart.
  std::vector<Target> wide{fake_target("h", 4)};
  std::string first = submit(request("exclusive", wide, {{"note", "first"}}));
  ASSERT_TRUE(pump_until([&] { return exclusive_->runs().size() == 1; }));
  std::string second = submit(request("exclusive", wide, {{"queue", true}, {"note", "second"}}));
  std::string third = submit(request("exclusive", wide, {{"queue", "true"}, {"single", true}}));
  pump_until([] { return false; }, 30ms);
  EXPECT_EQ(exclusive_->runs().size(), 1u) << "a queued job ran beside the first";
  EXPECT_EQ(live(second).runs.at("h").phase, RunPhase::Pending);

  exclusive_->runs()[0]->report("h", with_state(OpState::Ok));
  release(exclusive_->runs()[0]);
  EXPECT_EQ(wait_done(first).state, JobState::Done);
  ASSERT_TRUE(pump_until([&] { return exclusive_->runs().size() == 2; }));
  pump_until([] { return false; }, 30ms);
  EXPECT_EQ(exclusive_->runs().size(), 2u) << "the third ran beside the second";
  Job running_second = live(second);
  EXPECT_EQ(running_second.runs.at("h").phase, RunPhase::Running);
  EXPECT_FALSE(running_second.operate_args.contains("queue")) << "queue is for admission, not the operation";
  EXPECT_EQ(live(third).runs.at("h").phase, RunPhase::Pending);

  exclusive_->runs()[1]->report("h", with_state(OpState::Ok));
  release(exclusive_->runs()[1]);
  ASSERT_TRUE(pump_until([&] { return exclusive_->runs().size() == 3; }));
  Job running_third = live(third);
  EXPECT_GE(running_third.runs.at("h").startat, wait_done(second).runs.at("h").finishat);
  EXPECT_GT(running_third.runs.at("h").queue_wait, 0.0);
  exclusive_->runs()[2]->report("h", with_state(OpState::Ok));
  release(exclusive_->runs()[2]);
  EXPECT_EQ(wait_done(third).state, JobState::Done);
  drain();
}

TEST_F(JobBatchesTest, ACancelledQueuedJobGivesUpItsTurn) {
  std::string first = submit(request("exclusive", targets({"h"})));
  ASSERT_TRUE(pump_until([&] { return exclusive_->runs().size() == 1; }));
  std::string second = submit(request("exclusive", targets({"h"}), {{"queue", true}}));
  std::string third = submit(request("exclusive", targets({"h"}), {{"queue", true}}));
  auto cancelled = await(service_->cancel(second, "changed my mind"));
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->runs.at("h").result.state, OpState::Skipped);

  release(exclusive_->runs()[0]);
  wait_done(first);
  ASSERT_TRUE(pump_until([&] { return exclusive_->runs().size() == 2; }));
  exclusive_->runs()[1]->report("h", with_state(OpState::Ok));
  release(exclusive_->runs()[1]);
  EXPECT_EQ(wait_done(third).state, JobState::Done);
  drain();
}

TEST_F(JobBatchesTest, QueueIsAcceptedOnlyByExclusiveOperationsAndOnlyAsABoolean) {
  EXPECT_TRUE(service_->validate("exclusive", {{"queue", true}}).ok());
  auto bad = service_->validate("exclusive", {{"queue", "later"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(bad.error().message.find("queue"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(service_->validate("batch", {{"queue", true}}).ok()) << "not exclusive: queue is just an argument";
  auto refused = await(service_->submit(request("exclusive", targets({"h"}), {{"queue", "later"}})));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
}

TEST_F(JobBatchesTest, RecoveryKeepsTheOrderOfQueuedJobs) {
  const std::string earlier = "20260101000000000003";
  const std::string later = "20260101000000000004";
  for (const auto& jid : {earlier, later}) {
    Job job = hand_made_batch_job(jid, {"h"});
    job.operate = "exclusive";
    ASSERT_TRUE(await(store_->create_job(job)).ok());
  }
  ASSERT_TRUE(await(store_->flush()).ok());
  service_ = make_service();
  ASSERT_TRUE(await(service_->recover()).ok());
  ASSERT_TRUE(pump_until([&] { return exclusive_->runs().size() == 1; }));
  pump_until([] { return false; }, 30ms);
  EXPECT_EQ(exclusive_->runs().size(), 1u);
  EXPECT_EQ(live(later).runs.at("h").phase, RunPhase::Pending);
  auto refused = await(service_->submit(request("exclusive", targets({"h"}))));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::Conflict);

  release(exclusive_->runs()[0]);
  wait_done(earlier);
  ASSERT_TRUE(pump_until([&] { return exclusive_->runs().size() == 2; }));
  release(exclusive_->runs()[1]);
  wait_done(later);
  drain();
}

}  // namespace
}  // namespace steward::jobs
