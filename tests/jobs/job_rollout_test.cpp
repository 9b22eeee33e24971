// Rolling batches and the failure threshold (jobs/rollout.hpp): which
// targets run, in which batches, and which end Skipped with the reason.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <set>

#include "jobs/job_service_fixture.hpp"
#include "jobs/rollout.hpp"

namespace steward::jobs {
namespace {

using namespace std::chrono_literals;
using steward::testing::FakeScript;
using testing::execute_request;
using testing::fake_target;
using testing::JobServiceTest;

std::vector<Target> targets_named(const std::string& prefix, int count) {
  std::vector<Target> targets;
  for (int i = 0; i < count; ++i) targets.push_back(fake_target(prefix + std::to_string(i)));
  return targets;
}

std::set<std::string> slice(const std::vector<std::string>& calls, std::size_t from, std::size_t to) {
  return {calls.begin() + static_cast<long>(from), calls.begin() + static_cast<long>(std::min(to, calls.size()))};
}

TEST_F(JobServiceTest, BatchesRunInTurnAndTheThresholdSkipsTheTargetsLeft) {
  fake_->script("t1", FakeScript::exits(1));
  fake_->script("t4", FakeScript::exits(1));
  JobRequest request = execute_request(targets_named("t", 10));
  request.args["batch"] = 3;
  request.args["max_failures"] = 1;
  const Job job = wait_done(submit(request));

  // t1 failing leaves one failure (allowed); t4 makes two: no batch after the second.
  const auto calls = fake_->called_targets();
  ASSERT_EQ(calls.size(), 6u);
  EXPECT_EQ(slice(calls, 0, 3), (std::set<std::string>{"t0", "t1", "t2"}));
  EXPECT_EQ(slice(calls, 3, 6), (std::set<std::string>{"t3", "t4", "t5"}));
  for (const char* name : {"t6", "t7", "t8", "t9"}) {
    const OpResult& skipped = job.runs.at(name).result;
    EXPECT_EQ(skipped.state, OpState::Skipped) << name;
    EXPECT_EQ(skipped.error, "skipped: 2 of 10 targets failed, more than max_failures 1") << name;
  }
  EXPECT_EQ(job.state, JobState::Failure);
  for (const auto& call : fake_->calls()) EXPECT_EQ(call.request.command, "echo hello") << "the batch keys reached the operation";
  auto saved = stored(job.jid);
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->runs.at("t9").result.state, OpState::Skipped);
  EXPECT_EQ(saved->operate_args.at("batch").as_int64(), 3) << "kept, so a restart goes on batch by batch";
}

TEST_F(JobServiceTest, WithinTheThresholdEveryBatchRuns) {
  fake_->script("t2", FakeScript::exits(1));
  JobRequest request = execute_request(targets_named("t", 5));
  request.args["batch"] = "40%";  // 2 of 5
  request.args["max_failures"] = "20%";  // 1 of 5
  const Job job = wait_done(submit(request));
  EXPECT_EQ(fake_->called_targets().size(), 5u);
  EXPECT_EQ(job.runs.at("t4").result.state, OpState::Changed);
  EXPECT_EQ(job.error, "1 of 5 targets failed");
}

TEST_F(JobServiceTest, TheNextBatchWaitsForTheLastTargetOfThisOne) {
  fake_->script("a", FakeScript::hangs());
  JobRequest request = execute_request({fake_target("a"), fake_target("b"), fake_target("c")});
  request.args["batch"] = 2;
  const std::string jid = submit(request);
  auto early = await(service_->wait(jid, std::chrono::steady_clock::now() + 300ms));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, ErrorCode::Timeout);
  const auto calls = fake_->called_targets();
  EXPECT_EQ(std::set<std::string>(calls.begin(), calls.end()), (std::set<std::string>{"a", "b"}))
      << "c started before a, of the batch before it, ended";

  auto cancelled = await(service_->cancel(jid, "enough"));
  ASSERT_TRUE(cancelled) << cancelled.error().message;
  EXPECT_EQ(cancelled->runs.at("c").result.state, OpState::Skipped);
  EXPECT_EQ(cancelled->runs.at("c").result.error, "cancelled before it started: enough");
  EXPECT_EQ(fake_->calls_to("c"), 0u);
}

TEST_F(JobServiceTest, BadBatchOrThresholdIsRefusedNamingTheKey) {
  for (const auto& [key, value] : std::vector<std::pair<const char*, boost::json::value>>{
           {"batch", 0}, {"batch", "abc"}, {"batch", "150%"}, {"batch", -2}, {"batch", true},
           {"max_failures", -1}, {"max_failures", "101%"}, {"max_failures", "x%"}}) {
    JobRequest request = execute_request({fake_target("a")});
    request.args[key] = value;
    auto refused = await(service_->submit(request));
    ASSERT_FALSE(refused) << key << "=" << boost::json::serialize(value);
    EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(refused.error().message.find(key), std::string::npos) << refused.error().message;
    EXPECT_FALSE(service_->validate("execute", request.args).ok());
  }
  EXPECT_TRUE(service_->validate("execute", {{"cmd", "true"}, {"batch", "10%"}, {"max_failures", 0}}).ok());
  EXPECT_TRUE(fake_->calls().empty());
}

TEST_F(JobServiceTest, AfterARestartTheThresholdStillHolds) {
  const std::string jid = "20260101000000000009";
  Job job;
  job.jid = jid;
  job.startat = unix_now();
  job.operate = "execute";
  job.operate_args = {{"cmd", "echo recovered"}, {"batch", 1}, {"max_failures", 0}};
  job.targets = {"failed", "left1", "left2"};
  for (const auto& name : job.targets) job.runs[name] = TargetRun{};
  ASSERT_TRUE(await(store_->create_job(job)).ok());
  TargetRun failed;
  failed.phase = RunPhase::Finished;
  failed.result = failed_result("exit status 1");
  store_->save_result(jid, "failed", failed);
  ASSERT_TRUE(await(store_->flush()).ok());

  auto fresh = make_service();
  ASSERT_TRUE(await(fresh->recover()).ok());
  auto done = await(fresh->wait(jid, std::chrono::steady_clock::now() + 5s));
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_TRUE(fake_->calls().empty()) << "a target ran past the threshold after the restart";
  EXPECT_EQ(done->runs.at("left2").result.state, OpState::Skipped);
  EXPECT_EQ(done->runs.at("left2").result.error, "skipped: 1 of 3 targets failed, more than max_failures 0");
  drain();
}

TEST(Rollout, PercentagesAreOfTheJobsTargets) {
  auto spec_of = [](boost::json::object args) { return *take_rollout(args); };
  EXPECT_EQ(resolve_rollout(spec_of({{"batch", "25%"}}), 10).batch, 3u) << "rounded up";
  EXPECT_EQ(resolve_rollout(spec_of({{"batch", "1%"}}), 10).batch, 1u) << "at least one";
  EXPECT_EQ(resolve_rollout(spec_of({{"batch", "7"}}), 10).batch, 7u);
  EXPECT_EQ(*resolve_rollout(spec_of({{"max_failures", "25%"}}), 10).max_failures, 2u) << "rounded down";
  EXPECT_EQ(*resolve_rollout(spec_of({{"max_failures", 0}}), 10).max_failures, 0u);
  EXPECT_FALSE(resolve_rollout(spec_of({}), 10).max_failures);
  EXPECT_EQ(resolve_rollout(spec_of({}), 10).batch, 0u);
  boost::json::object args{{"cmd", "x"}, {"batch", 2}, {"max_failures", "10%"}};
  ASSERT_TRUE(take_rollout(args));
  EXPECT_EQ(args, (boost::json::object{{"cmd", "x"}})) << "taken out of the operation's arguments";
}

}  // namespace
}  // namespace steward::jobs
