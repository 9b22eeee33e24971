#include "jobs/job_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <unistd.h>

#include "jobs/job_service_fixture.hpp"

namespace steward::jobs {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steward::testing::FakeScript;
using testing::execute_request;
using testing::fake_target;
using testing::JobServiceTest;

// ---------------------------------------------------------------- validate

TEST_F(JobServiceTest, ValidateRejectsUnknownOperationAndBadExecuteArgs) {
  auto unknown = service_->validate("reboot", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::NotFound);
  EXPECT_NE(unknown.error().message.find("reboot"), std::string::npos) << unknown.error().message;

  auto neither = service_->validate("execute", {});
  ASSERT_FALSE(neither.ok());
  EXPECT_EQ(neither.error().code, ErrorCode::InvalidArgument);

  auto both = service_->validate("execute", {{"cmd", "ls"}, {"argv", boost::json::array{"ls"}}});
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().code, ErrorCode::InvalidArgument);

  EXPECT_TRUE(service_->validate("execute", {{"cmd", "ls"}}).ok());
  EXPECT_TRUE(service_->validate("ping", {}).ok());
}

TEST_F(JobServiceTest, SubmitRejectsBadRequestsWithoutRecordingAJob) {
  JobRequest unknown = execute_request({fake_target("a")});
  unknown.operate = "reboot";
  auto r1 = await(service_->submit(unknown));
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().code, ErrorCode::NotFound);

  JobRequest bad = execute_request({fake_target("a")});
  bad.args = {};
  auto r2 = await(service_->submit(bad));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, ErrorCode::InvalidArgument);

  auto r3 = await(service_->submit(execute_request({})));
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.error().code, ErrorCode::InvalidArgument);

  auto listed = await(store_->list_jobs({}, store::OutputLimit{0}));
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  EXPECT_TRUE(fake_->calls().empty());
}

// ------------------------------------------------------------------ submit

TEST_F(JobServiceTest, SubmittedJobIsDurableBeforeSubmitReturns) {
  fake_->script("h1", FakeScript::hangs());
  std::string jid = submit(execute_request({fake_target("h1"), fake_target("h2")}, "uptime"));
  ASSERT_FALSE(jid.empty());

  // Straight from the store's reader connection, no flush: only committed data is visible.
  auto loaded = await(store_->load_job(jid, {}));
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value()) << "job not in the store when submit returned";
  const Job& job = **loaded;
  EXPECT_EQ(job.jid, jid);
  EXPECT_EQ(job.operate, "execute");
  EXPECT_EQ(job.operate_args.at("cmd").as_string(), "uptime");
  EXPECT_EQ(job.targets, (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(job.state, JobState::Running);
  EXPECT_EQ(job.runs.size(), 2u);
  EXPECT_GT(job.startat, 0);
  EXPECT_EQ(service_->counters().accepted, 1u);

  auto cancelled = await(service_->cancel(jid, "done testing"));
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state, JobState::Failure);
}

TEST_F(JobServiceTest, ResultsPerTargetAndFailureWhenAnyTargetFails) {
  fake_->script("ok", FakeScript::exits(0, {"hel", "lo\n"}, "warn\n"));
  fake_->script("bad", FakeScript::exits(3, {"partial"}));
  fake_->script("down", FakeScript::fails(ErrorCode::Unreachable, "down: connection refused"));
  std::string jid = submit(execute_request({fake_target("ok"), fake_target("bad"), fake_target("down")}));
  Job job = wait_done(jid);

  ASSERT_EQ(job.runs.size(), 3u);
  const OpResult& ok = job.runs.at("ok").result;
  EXPECT_EQ(job.runs.at("ok").phase, RunPhase::Finished);
  EXPECT_EQ(ok.state, OpState::Changed);
  EXPECT_EQ(static_cast<int>(ok.state), 5);
  EXPECT_EQ(ok.rtc, 0);
  EXPECT_EQ(ok.stdout_data, "hello\n");
  EXPECT_EQ(ok.stderr_data, "warn\n");
  EXPECT_TRUE(ok.error.empty()) << ok.error;

  const OpResult& bad = job.runs.at("bad").result;
  EXPECT_EQ(static_cast<int>(bad.state), 3);
  EXPECT_EQ(bad.rtc, 3);
  EXPECT_EQ(bad.stdout_data, "partial");
  EXPECT_EQ(bad.error, "exit status 3");

  const OpResult& down = job.runs.at("down").result;
  EXPECT_EQ(static_cast<int>(down.state), 4);
  EXPECT_FALSE(down.rtc.has_value());
  EXPECT_NE(down.error.find("connection refused"), std::string::npos) << down.error;

  EXPECT_EQ(job.state, JobState::Failure);
  EXPECT_EQ(job.error, "2 of 3 targets failed");
  EXPECT_GE(job.finishat, job.startat);

  // Every target got the request as asked.
  ASSERT_EQ(fake_->calls().size(), 3u);
  for (const auto& call : fake_->calls()) {
    EXPECT_EQ(call.request.command, "echo hello") << call.target;
    EXPECT_TRUE(call.request.argv.empty());
  }

  // The same end is in the store.
  auto saved = stored(jid);
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->state, JobState::Failure);
  EXPECT_EQ(saved->error, "2 of 3 targets failed");
  EXPECT_EQ(saved->runs.at("ok").result.state, OpState::Changed);
  EXPECT_EQ(saved->runs.at("ok").result.stdout_data, "hello\n");
  EXPECT_EQ(saved->runs.at("bad").result.rtc, 3);
  EXPECT_EQ(saved->runs.at("down").result.state, OpState::Unreachable);
  EXPECT_EQ(service_->counters().finished, 1u);
  EXPECT_EQ(service_->live_jobs(), 0u);
}

TEST_F(JobServiceTest, JobIsDoneWhenEveryTargetSucceeds) {
  JobRequest request;
  request.operate = "ping";
  request.targets = {fake_target("a"), fake_target("b"), fake_target("a")};  // duplicates run once
  std::string jid = submit(request);
  Job job = wait_done(jid);
  EXPECT_EQ(job.state, JobState::Done);
  EXPECT_EQ(job.error, "");
  EXPECT_EQ(job.targets, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(job.runs.at("a").result.state, OpState::Ok);
  EXPECT_EQ(job.runs.at("b").result.state, OpState::Ok);
  EXPECT_EQ(fake_->calls_to("a"), 1u);
  EXPECT_EQ(fake_->calls_to("b"), 1u);

  auto saved = stored(jid);
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->state, JobState::Done);
  EXPECT_GT(saved->finishat, 0);
}

TEST_F(JobServiceTest, ArgvAndOptionsReachTheTransport) {
  JobRequest request;
  request.operate = "execute";
  request.args = {{"argv", boost::json::array{"printf", "%s", "a b"}},
                  {"env", boost::json::object{{"K", "V"}}},
                  {"cwd", "/tmp"},
                  {"stdin", "input"},
                  {"timeout", 7}};
  request.targets = {fake_target("x")};
  Job job = wait_done(submit(request));
  EXPECT_EQ(job.state, JobState::Done);
  ASSERT_EQ(fake_->calls().size(), 1u);
  const auto& sent = fake_->calls()[0].request;
  EXPECT_EQ(sent.argv, (std::vector<std::string>{"printf", "%s", "a b"}));
  EXPECT_TRUE(sent.command.empty());
  EXPECT_EQ(sent.env.at("K"), "V");
  EXPECT_EQ(sent.cwd, "/tmp");
  EXPECT_EQ(sent.stdin_data, "input");
  EXPECT_EQ(sent.timeout, 7s);
}

TEST_F(JobServiceTest, UnknownConnectionFailsTheTarget) {
  Target target = fake_target("odd");
  target.connection = "carrier-pigeon";
  Job job = wait_done(submit(execute_request({target})));
  EXPECT_EQ(job.runs.at("odd").result.state, OpState::Failed);
  EXPECT_NE(job.runs.at("odd").result.error.find("carrier-pigeon"), std::string::npos)
      << job.runs.at("odd").result.error;
  EXPECT_EQ(job.state, JobState::Failure);
  EXPECT_TRUE(fake_->calls().empty());
}

TEST_F(JobServiceTest, GetAndListSeeLiveAndFinishedJobs) {
  auto missing = await(service_->get("20000101000000000000"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  auto wait_missing = await(service_->wait("20000101000000000000", std::chrono::steady_clock::now() + 1s));
  ASSERT_FALSE(wait_missing.ok());
  EXPECT_EQ(wait_missing.error().code, ErrorCode::NotFound);
  auto cancel_missing = await(service_->cancel("20000101000000000000", "why"));
  ASSERT_FALSE(cancel_missing.ok());
  EXPECT_EQ(cancel_missing.error().code, ErrorCode::NotFound);

  std::string first = submit(execute_request({fake_target("a")}));
  wait_done(first);
  fake_->script("slow", FakeScript::hangs());
  std::string second = submit(execute_request({fake_target("slow")}));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 1; }));

  auto live = await(service_->get(second));
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->state, JobState::Running);
  EXPECT_EQ(live->runs.at("slow").phase, RunPhase::Running);
  EXPECT_EQ(service_->running_targets(), 1u);

  auto listed = await(service_->list({}, store::OutputLimit{0}));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].jid, second) << "newest first";
  EXPECT_EQ((*listed)[0].runs.at("slow").phase, RunPhase::Running) << "live view wins over the store";
  EXPECT_EQ((*listed)[1].state, JobState::Done);
  auto ids = await(service_->list_ids({}));
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<std::string>{second, first}));

  ASSERT_TRUE(await(service_->cancel(second, "cleanup")).ok());
}

TEST_F(JobServiceTest, GetCapsOutputAndReadOutputPagesIt) {
  fake_->script("a", FakeScript::exits(0, {"0123456789"}, "oops"));
  fake_->script("slow", FakeScript::hangs());
  std::string jid = submit(execute_request({fake_target("a"), fake_target("slow")}));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 1; }));
  ASSERT_TRUE(pump_until([&] {
    auto job = await(service_->get(jid));
    return job.ok() && job->runs.at("a").phase == RunPhase::Finished;
  }));

  auto capped = await(service_->get(jid, store::OutputLimit{4}));  // live
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->runs.at("a").result.stdout_data, "6789");
  EXPECT_EQ(capped->runs.at("a").result.stdout_size, 10u);
  EXPECT_EQ(capped->runs.at("a").result.stderr_data, "oops");

  auto page = await(service_->read_output(jid, "a", store::OutputStream::Stdout, 2, 5));
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->data, "23456");
  EXPECT_EQ(page->total, 10u);
  EXPECT_TRUE(page->finished);
  auto running = await(service_->read_output(jid, "slow", store::OutputStream::Stdout, 0, 5));
  ASSERT_TRUE(running.ok());
  EXPECT_FALSE(running->finished);

  auto no_target = await(service_->read_output(jid, "nohost", store::OutputStream::Stdout, 0, 5));
  ASSERT_FALSE(no_target.ok());
  EXPECT_EQ(no_target.error().code, ErrorCode::NotFound);
  EXPECT_NE(no_target.error().message.find("nohost"), std::string::npos);
  auto no_job = await(service_->read_output("20000101000000000000", "a", store::OutputStream::Stdout, 0, 5));
  ASSERT_FALSE(no_job.ok());
  EXPECT_EQ(no_job.error().code, ErrorCode::NotFound);

  ASSERT_TRUE(await(service_->cancel(jid, "cleanup")).ok());
  auto stored_capped = await(service_->get(jid, store::OutputLimit{4}));  // from the store now
  ASSERT_TRUE(stored_capped.ok());
  EXPECT_EQ(stored_capped->runs.at("a").result.stdout_data, "6789");
  EXPECT_EQ(stored_capped->runs.at("a").result.stdout_size, 10u);
}

// -------------------------------------------------------------------- wait

TEST_F(JobServiceTest, WaitTimesOutAndTheJobGoesOn) {
  fake_->script("slow", FakeScript::exits(0, {"finally\n"}).after(300ms));
  std::string jid = submit(execute_request({fake_target("slow")}));

  auto early = await(service_->wait(jid, std::chrono::steady_clock::now() + 10ms));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::Timeout);

  auto still = await(service_->get(jid));
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->state, JobState::Running);

  Job job = wait_done(jid);
  EXPECT_EQ(job.state, JobState::Done);
  EXPECT_EQ(job.runs.at("slow").result.state, OpState::Changed);
  EXPECT_EQ(job.runs.at("slow").result.stdout_data, "finally\n");
  EXPECT_TRUE(fake_->cancelled().empty());
}

TEST_F(JobServiceTest, WaitOnFinishedJobReturnsItFromTheStore) {
  std::string jid = submit(execute_request({fake_target("a")}));
  wait_done(jid);
  drain();
  ASSERT_EQ(service_->live_jobs(), 0u);
  auto again = await(service_->wait(jid, std::chrono::steady_clock::now() + 10ms));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->state, JobState::Done);
  EXPECT_EQ(again->runs.at("a").result.state, OpState::Changed);
}

// ------------------------------------------------------------------ cancel

TEST_F(JobServiceTest, CancelStopsRunningTargetsAndSkipsPendingOnes) {
  fake_->script("busy", FakeScript::hangs());
  fake_->script("stuck", FakeScript::hangs());
  // Job A holds "busy" (one session), so job B's "busy" waits in the queue.
  std::string a = submit(execute_request({fake_target("busy")}));
  std::string b = submit(execute_request({fake_target("busy"), fake_target("stuck")}));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 2; }));
  ASSERT_EQ(fake_->calls_to("busy"), 1u);
  ASSERT_EQ(fake_->calls_to("stuck"), 1u);

  auto cancelled = await(service_->cancel(b, "operator said stop"));
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
  const Job& job = *cancelled;
  EXPECT_EQ(job.state, JobState::Failure);
  EXPECT_NE(job.error.find("operator said stop"), std::string::npos) << job.error;

  const TargetRun& stuck = job.runs.at("stuck");
  EXPECT_EQ(stuck.phase, RunPhase::Finished);
  EXPECT_EQ(stuck.result.state, OpState::Failed);
  EXPECT_NE(stuck.result.error.find("cancel"), std::string::npos) << stuck.result.error;

  const TargetRun& pending = job.runs.at("busy");
  EXPECT_EQ(pending.phase, RunPhase::Finished);
  EXPECT_EQ(pending.result.state, OpState::Skipped);
  EXPECT_EQ(static_cast<int>(pending.result.state), 2);

  EXPECT_EQ(fake_->cancelled(), (std::vector<std::string>{"stuck"}));
  EXPECT_EQ(fake_->cancel_reasons(), (std::vector<std::string>{"operator said stop"}));
  EXPECT_EQ(fake_->running(), 1) << "job A is not touched";

  auto saved = stored(b);
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->state, JobState::Failure);
  EXPECT_EQ(saved->runs.at("stuck").result.state, OpState::Failed);
  EXPECT_EQ(saved->runs.at("busy").result.state, OpState::Skipped);

  // Ending A frees "busy"; B's queued item must not run after all.
  ASSERT_TRUE(await(service_->cancel(a, "cleanup")).ok());
  drain();
  EXPECT_EQ(fake_->calls_to("busy"), 1u);
}

TEST_F(JobServiceTest, CancelOfFinishedJobReturnsIt) {
  std::string jid = submit(execute_request({fake_target("a")}));
  wait_done(jid);
  auto again = await(service_->cancel(jid, "too late"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->state, JobState::Done);
  EXPECT_EQ(again->error, "");
}

// ------------------------------------------------------------------ remove

TEST_F(JobServiceTest, RemoveDeletesAndThenNotFound) {
  std::string jid = submit(execute_request({fake_target("a")}));
  wait_done(jid);
  auto removed = await(service_->remove(jid));
  ASSERT_TRUE(removed.ok()) << removed.error().message;

  auto got = await(service_->get(jid));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::NotFound);
  auto loaded = await(store_->load_job(jid, {}));
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_value());

  auto twice = await(service_->remove(jid));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::NotFound);
}

TEST_F(JobServiceTest, RemoveCancelsARunningJobFirst) {
  fake_->script("h", FakeScript::hangs());
  std::string jid = submit(execute_request({fake_target("h")}));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 1; }));
  auto removed = await(service_->remove(jid));
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(fake_->cancelled(), (std::vector<std::string>{"h"}));
  EXPECT_EQ(fake_->cancel_reasons(), (std::vector<std::string>{"job deleted"}));
  auto got = await(service_->get(jid));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::NotFound);
  EXPECT_EQ(service_->live_jobs(), 0u);
}

// --------------------------------------------------------------- subscribe

TEST_F(JobServiceTest, SubscribeLiveGetsOutputThenResultThenDone) {
  fake_->script("talk", FakeScript::exits(0, {"one\n", "two\n"}, "err\n").after(30ms));
  std::string jid = submit(execute_request({fake_target("talk")}));
  auto with_output = await(service_->subscribe(jid, true));
  auto without_output = await(service_->subscribe(jid, false));
  ASSERT_TRUE(with_output.ok()) << with_output.error().message;
  ASSERT_TRUE(without_output.ok());

  auto events = collect(*with_output);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].kind, JobEvent::Kind::Output);
  EXPECT_EQ(events[0].target, "talk");
  EXPECT_EQ(events[0].chunk.data, "one\n");
  EXPECT_EQ(events[0].chunk.stream, store::OutputStream::Stdout);
  EXPECT_EQ(events[0].chunk.seq, 1u);
  EXPECT_EQ(events[1].kind, JobEvent::Kind::Output);
  EXPECT_EQ(events[1].chunk.data, "two\n");
  EXPECT_EQ(events[1].chunk.seq, 2u);
  EXPECT_EQ(events[2].kind, JobEvent::Kind::Output);
  EXPECT_EQ(events[2].chunk.data, "err\n");
  EXPECT_EQ(events[2].chunk.stream, store::OutputStream::Stderr);
  EXPECT_EQ(events[3].kind, JobEvent::Kind::Result);
  EXPECT_EQ(events[3].target, "talk");
  EXPECT_EQ(events[3].run.result.state, OpState::Changed);
  EXPECT_EQ(events[3].run.result.stdout_data, "one\ntwo\n");
  EXPECT_EQ(events[4].kind, JobEvent::Kind::Done);
  EXPECT_EQ(events[4].job.jid, jid);
  EXPECT_EQ(events[4].job.state, JobState::Done);
  EXPECT_FALSE((*with_output)->dropped());

  auto quiet = collect(*without_output);
  ASSERT_EQ(quiet.size(), 2u);
  EXPECT_EQ(quiet[0].kind, JobEvent::Kind::Result);
  EXPECT_EQ(quiet[1].kind, JobEvent::Kind::Done);
}

TEST_F(JobServiceTest, SubscribeAfterTheEndReplaysFromTheStore) {
  fake_->script("a", FakeScript::exits(0, {"alpha\n"}));
  fake_->script("b", FakeScript::exits(1, {"beta\n"}, "oops\n"));
  std::string jid = submit(execute_request({fake_target("a"), fake_target("b")}));
  wait_done(jid);
  drain();
  ASSERT_EQ(service_->live_jobs(), 0u);

  auto subscription = await(service_->subscribe(jid, true));
  ASSERT_TRUE(subscription.ok()) << subscription.error().message;
  auto events = collect(*subscription);
  ASSERT_EQ(events.size(), 6u);  // 3 chunks, 2 results, done
  std::string a_out, b_out, b_err;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(events[i].kind, JobEvent::Kind::Output) << i;
    EXPECT_EQ(events[i].chunk.seq, static_cast<std::uint64_t>(i + 1));
    auto& sink = events[i].target == "a" ? a_out : events[i].chunk.stream == store::OutputStream::Stderr ? b_err : b_out;
    sink += events[i].chunk.data;
  }
  EXPECT_EQ(a_out, "alpha\n");
  EXPECT_EQ(b_out, "beta\n");
  EXPECT_EQ(b_err, "oops\n");
  EXPECT_EQ(events[3].kind, JobEvent::Kind::Result);
  EXPECT_EQ(events[3].target, "a");
  EXPECT_EQ(events[3].run.result.state, OpState::Changed);
  EXPECT_EQ(events[4].kind, JobEvent::Kind::Result);
  EXPECT_EQ(events[4].target, "b");
  EXPECT_EQ(events[4].run.result.state, OpState::Failed);
  EXPECT_EQ(events[4].run.result.rtc, 1);
  EXPECT_EQ(events[5].kind, JobEvent::Kind::Done);
  EXPECT_EQ(events[5].job.state, JobState::Failure);

  auto quiet = await(service_->subscribe(jid, false));
  ASSERT_TRUE(quiet.ok());
  auto quiet_events = collect(*quiet);
  ASSERT_EQ(quiet_events.size(), 3u);
  EXPECT_EQ(quiet_events[0].kind, JobEvent::Kind::Result);
  EXPECT_EQ(quiet_events[2].kind, JobEvent::Kind::Done);

  auto unknown = await(service_->subscribe("20000101000000000000", true));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::NotFound);
}

TEST_F(JobServiceTest, SubscribeMidwayReplaysWhatAlreadyHappened) {
  fake_->script("fast", FakeScript::exits(0, {"early\n"}));
  fake_->script("slow", FakeScript::exits(0, {"late\n"}).after(300ms));
  std::string jid = submit(execute_request({fake_target("fast"), fake_target("slow")}));
  ASSERT_TRUE(pump_until([&] {
    auto it = fake_->calls().size();
    return it == 2 && service_->running_targets() == 1;
  }));
  auto subscription = await(service_->subscribe(jid, true));
  ASSERT_TRUE(subscription.ok());
  auto events = collect(*subscription);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].kind, JobEvent::Kind::Output);
  EXPECT_EQ(events[0].chunk.data, "early\n");
  EXPECT_EQ(events[1].kind, JobEvent::Kind::Result);
  EXPECT_EQ(events[1].target, "fast");
  EXPECT_EQ(events[2].kind, JobEvent::Kind::Output);
  EXPECT_EQ(events[2].chunk.data, "late\n");
  EXPECT_EQ(events[3].kind, JobEvent::Kind::Result);
  EXPECT_EQ(events[3].target, "slow");
  EXPECT_EQ(events[4].kind, JobEvent::Kind::Done);
}

// A reader that attaches as the job ends (wait() has returned, so the job is
// over) must still see the stream end with Done, like one that attaches
// later (replayed from the store) or earlier (live).
TEST_F(JobServiceTest, SubscribeJustAfterTheEndStillEndsWithDone) {
  fake_->script("a", FakeScript::exits(0, {"out\n"}));
  std::string jid = submit(execute_request({fake_target("a")}));
  Job job = wait_done(jid);
  ASSERT_EQ(job.state, JobState::Done);
  auto subscription = await(service_->subscribe(jid, true));
  ASSERT_TRUE(subscription.ok()) << subscription.error().message;
  auto events = collect(*subscription, 2s);
  ASSERT_FALSE(events.empty());
  ASSERT_EQ(events.back().kind, JobEvent::Kind::Done) << "stream never ended: no Done event";
  EXPECT_EQ(events.back().job.state, JobState::Done);
  std::size_t results = 0;
  for (const auto& event : events) results += event.kind == JobEvent::Kind::Result ? 1 : 0;
  EXPECT_EQ(results, 1u);
}

// ----------------------------------------------------------------- recover

Job hand_made_job(const std::string& jid, std::vector<std::string> targets) {
  Job job;
  job.jid = jid;
  job.startat = unix_now();
  job.operate = "execute";
  job.operate_args = {{"cmd", "echo recovered"}};
  job.targets = std::move(targets);
  for (const auto& t : job.targets) job.runs[t] = TargetRun{};
  return job;
}

TEST_F(JobServiceTest, RecoverSaysOutcomeUnknownForUnrecordedTargetsAndRunsPendingOnes) {
  const std::string jid = "20260101000000000001";
  Job job = hand_made_job(jid, {"was_running", "never_started"});
  ASSERT_TRUE(await(store_->create_job(job)).ok());
  TargetRun running;
  running.phase = RunPhase::Running;
  running.startat = unix_now();
  store_->save_result(jid, "was_running", running);
  store_->append_output(jid, {1, "was_running", store::OutputStream::Stdout, "before the crash\n", unix_now()});
  ASSERT_TRUE(await(store_->flush()).ok());
  fake_->script("never_started", FakeScript::exits(0, {"after the restart\n"}));

  auto fresh = make_service();
  auto recovered = await(fresh->recover());
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  EXPECT_EQ(fresh->counters().recovered, 1u);

  auto done = await(fresh->wait(jid, std::chrono::steady_clock::now() + 5s));
  ASSERT_TRUE(done.ok()) << done.error().message;
  const TargetRun& interrupted = done->runs.at("was_running");
  EXPECT_EQ(interrupted.phase, RunPhase::Finished);
  EXPECT_EQ(interrupted.result.state, OpState::Failed);
  EXPECT_EQ(interrupted.result.error, "outcome unknown: server restarted; it was running, and no command of it was recorded");
  const TargetRun& ran = done->runs.at("never_started");
  EXPECT_EQ(ran.phase, RunPhase::Finished);
  EXPECT_EQ(ran.result.state, OpState::Changed);
  EXPECT_EQ(done->state, JobState::Failure);
  EXPECT_EQ(done->error, "1 of 2 targets failed");

  EXPECT_EQ(fake_->called_targets(), (std::vector<std::string>{"never_started"}));
  ASSERT_EQ(fake_->calls().size(), 1u);
  EXPECT_EQ(fake_->calls()[0].request.command, "echo recovered");

  auto saved = stored(jid);
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->state, JobState::Failure);
  EXPECT_EQ(saved->runs.at("was_running").result.error, "outcome unknown: server restarted; it was running, and no command of it was recorded");
  EXPECT_EQ(saved->runs.at("never_started").result.state, OpState::Changed);
  auto unfinished = await(store_->unfinished_jobs());
  ASSERT_TRUE(unfinished.ok());
  EXPECT_TRUE(unfinished->empty());

  // New output continues the sequence instead of overwriting what was stored.
  auto chunks = await(store_->load_output(jid, 0));
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ((*chunks)[0].seq, 1u);
  EXPECT_EQ((*chunks)[0].data, "before the crash\n");
  EXPECT_EQ((*chunks)[1].seq, 2u);
  EXPECT_EQ((*chunks)[1].target, "never_started");
  EXPECT_EQ((*chunks)[1].data, "after the restart\n");
  drain();
}

TEST_F(JobServiceTest, RecoverFailsTargetsThatNoLongerResolve) {
  const std::string jid = "20260101000000000003";
  ASSERT_TRUE(await(store_->create_job(hand_made_job(jid, {"kept", "gone"}))).ok());
  auto fresh = make_service([](const std::string& name) -> Result<Target> {
    if (name == "gone") return make_error(ErrorCode::NotFound, "no such host: gone");
    return fake_target(name);
  });
  ASSERT_TRUE(await(fresh->recover()).ok());
  auto done = await(fresh->wait(jid, std::chrono::steady_clock::now() + 5s));
  ASSERT_TRUE(done.ok()) << done.error().message;
  const OpResult& gone = done->runs.at("gone").result;
  EXPECT_EQ(gone.state, OpState::Failed);
  EXPECT_EQ(gone.error.rfind("cannot run after restart", 0), 0u) << gone.error;
  EXPECT_NE(gone.error.find("no such host: gone"), std::string::npos) << gone.error;
  EXPECT_EQ(done->runs.at("kept").result.state, OpState::Changed);
  EXPECT_EQ(fake_->called_targets(), (std::vector<std::string>{"kept"}));
  drain();
}

TEST_F(JobServiceTest, RecoverEndsAJobWhoseTargetsWereAllInterrupted) {
  const std::string jid = "20260101000000000002";
  Job job = hand_made_job(jid, {"r1"});
  ASSERT_TRUE(await(store_->create_job(job)).ok());
  TargetRun running;
  running.phase = RunPhase::Running;
  store_->save_result(jid, "r1", running);
  ASSERT_TRUE(await(store_->flush()).ok());

  auto fresh = make_service();
  ASSERT_TRUE(await(fresh->recover()).ok());
  drain();
  auto saved = stored(jid);
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->state, JobState::Failure);
  EXPECT_EQ(saved->runs.at("r1").result.error, "outcome unknown: server restarted; it was running, and no command of it was recorded");
  EXPECT_TRUE(fake_->calls().empty());
  EXPECT_EQ(fresh->live_jobs(), 0u);
}

TEST_F(JobServiceTest, CommandsAreRecordedBeforeTheyRunAndForgottenOnceTheResultIsStored) {
  fake_->supervise(true);
  fake_->script("h", FakeScript::hangs());
  std::string jid = submit(execute_request({fake_target("h")}));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 1; }));
  // The fake reported its process to the journal before "running": it is committed.
  auto recorded = await(store_->load_processes(jid));
  ASSERT_TRUE(recorded.ok()) << recorded.error().message;
  ASSERT_EQ(recorded->size(), 1u);
  EXPECT_EQ((*recorded)[0].first, "h");
  EXPECT_EQ((*recorded)[0].second.transport, "fake");
  EXPECT_EQ((*recorded)[0].second.pgid, 4001);
  EXPECT_EQ((*recorded)[0].second.start_time, "77");
  EXPECT_EQ((*recorded)[0].second.status_path, "status/h");

  ASSERT_TRUE(await(service_->cancel(jid, "enough")).ok());
  ASSERT_TRUE(pump_until([&] { return !fake_->forgotten().empty(); }));
  EXPECT_EQ(fake_->forgotten(), (std::vector<std::string>{"h status/h"}));
  auto left = await(store_->load_processes(jid));
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  drain();
}

// Targets that were running at a crash, each with a recorded command, and
// what the transport found of it.
class RecoverRecordedTest : public JobServiceTest {
 protected:
  std::string crashed_job(const std::vector<std::string>& targets) {
    const std::string jid = "20260101000000000009";
    EXPECT_TRUE(await(store_->create_job(hand_made_job(jid, targets))).ok());
    for (const auto& target : targets) {
      TargetRun running;
      running.phase = RunPhase::Running;
      store_->save_result(jid, target, running);
      EXPECT_TRUE(await(store_->record_process(jid, target, RunProcess{"fake", 700, "42", "st/" + target})).ok());
    }
    EXPECT_TRUE(await(store_->flush()).ok());
    return jid;
  }
  // The recovering service replaces service_, so it outlives the test's last drain().
  Job recover_and_wait(const std::string& jid) {
    service_ = make_service();
    EXPECT_TRUE(await(service_->recover()).ok());
    auto done = await(service_->wait(jid, std::chrono::steady_clock::now() + 5s));
    EXPECT_TRUE(done.ok()) << done.error().message;
    return done.ok() ? *done : Job{};
  }
};

TEST_F(RecoverRecordedTest, EachTargetReportsWhatBecameOfItsCommand) {
  using Kind = transport::OrphanOutcome::Kind;
  std::string jid = crashed_job({"ok", "three", "killed", "stopped", "gone", "away"});
  fake_->orphan("ok", {Kind::Finished, 0, 0, ""});
  fake_->orphan("three", {Kind::Finished, 3, 0, ""});
  fake_->orphan("killed", {Kind::Finished, -1, 9, ""});
  fake_->orphan("stopped", {Kind::Stopped, -1, 0, ""});
  fake_->orphan("away", {Kind::Unknown, -1, 0, "cannot reach the target to look: refused", true});
  Job done = recover_and_wait(jid);

  const OpResult& ok = done.runs.at("ok").result;
  EXPECT_EQ(ok.state, OpState::Changed);
  EXPECT_EQ(ok.rtc, 0);
  EXPECT_EQ(ok.error, "finished while the server was down");
  const OpResult& three = done.runs.at("three").result;
  EXPECT_EQ(three.state, OpState::Failed);
  EXPECT_EQ(three.rtc, 3);
  EXPECT_EQ(three.error, "exit status 3 (finished while the server was down)");
  const OpResult& killed = done.runs.at("killed").result;
  EXPECT_EQ(killed.state, OpState::Failed);
  EXPECT_EQ(killed.signal, 9);
  EXPECT_EQ(killed.error, "killed by signal KILL (finished while the server was down)");
  EXPECT_EQ(done.runs.at("stopped").result.state, OpState::Failed);
  EXPECT_EQ(done.runs.at("stopped").result.error, "interrupted: server restarted; process group 700 stopped");
  EXPECT_EQ(done.runs.at("gone").result.state, OpState::Failed);
  EXPECT_EQ(done.runs.at("gone").result.error, "outcome unknown: server restarted; fake: nothing known");
  EXPECT_EQ(done.runs.at("away").result.state, OpState::Unreachable);
  EXPECT_EQ(done.runs.at("away").result.error,
            "outcome unknown: server restarted; cannot reach the target to look: refused");
  EXPECT_EQ(done.state, JobState::Failure);

  EXPECT_EQ(fake_->settled().size(), 6u);
  EXPECT_NE(std::find(fake_->settled().begin(), fake_->settled().end(), "stopped 700 st/stopped"),
            fake_->settled().end());
  EXPECT_TRUE(fake_->calls().empty()) << "a recovered target was run again";
  drain();
  auto left = await(store_->load_processes(jid));
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  auto saved = stored(jid);
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->runs.at("three").result.rtc, 3);
}

TEST_F(RecoverRecordedTest, AJobWhoseTargetsAllFinishedWhileDownIsDone) {
  std::string jid = crashed_job({"a"});
  fake_->orphan("a", {transport::OrphanOutcome::Kind::Finished, 0, 0, ""});
  Job done = recover_and_wait(jid);
  EXPECT_EQ(done.state, JobState::Done);
  EXPECT_EQ(done.runs.at("a").result.state, OpState::Changed);
  drain();
}

// ---------------------------------------------------------------- shutdown

TEST_F(JobServiceTest, ShutdownCancelsAfterGraceAndLeavesPendingWorkPending) {
  fake_->script("h", FakeScript::hangs());
  std::string a = submit(execute_request({fake_target("h")}));
  std::string b = submit(execute_request({fake_target("h")}));  // queued behind a on the one session
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 1; }));

  auto started = std::chrono::steady_clock::now();
  auto finished = std::make_shared<bool>(false);
  asio::co_spawn(io_, service_->shutdown(150ms), [finished](std::exception_ptr) { *finished = true; });
  // Within the grace period nothing is cancelled.
  pump_until([] { return false; }, 40ms);
  EXPECT_FALSE(*finished);
  EXPECT_TRUE(fake_->cancelled().empty());

  ASSERT_TRUE(pump_until([&] { return *finished; }));
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(fake_->cancelled(), (std::vector<std::string>{"h"}));
  EXPECT_EQ(fake_->cancel_reasons(), (std::vector<std::string>{"server shutting down"}));
  drain();

  auto saved_a = stored(a);
  ASSERT_TRUE(saved_a.has_value());
  EXPECT_EQ(saved_a->runs.at("h").result.state, OpState::Failed);
  EXPECT_NE(saved_a->runs.at("h").result.error.find("server shutting down"), std::string::npos)
      << saved_a->runs.at("h").result.error;

  auto saved_b = stored(b);
  ASSERT_TRUE(saved_b.has_value());
  EXPECT_EQ(saved_b->state, JobState::Running);
  EXPECT_EQ(saved_b->runs.at("h").phase, RunPhase::Pending);
  EXPECT_EQ(fake_->calls_to("h"), 1u) << "nothing starts after shutdown";

  auto refused = await(service_->submit(execute_request({fake_target("x")})));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::Unavailable);
  submitted_.clear();  // b stays pending on purpose

  // The next start runs what was left pending, and only that.
  fake_->script("h", FakeScript::exits(0, {"second life\n"}));
  service_.reset();
  scheduler_ = std::make_unique<sched::Scheduler>(io_.get_executor(), clock_, 8);
  service_ = make_service();
  auto recovered = await(service_->recover());
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  EXPECT_EQ(service_->counters().recovered, 1u) << "only b was unfinished";
  Job resumed = wait_done(b);
  EXPECT_EQ(resumed.state, JobState::Done);
  EXPECT_EQ(resumed.runs.at("h").result.stdout_data, "second life\n");
  EXPECT_EQ(fake_->calls_to("h"), 2u);
  drain();
}

TEST_F(JobServiceTest, ShutdownLetsWorkThatEndsWithinGraceFinish) {
  fake_->script("quick", FakeScript::exits(0, {"bye\n"}).after(30ms));
  std::string jid = submit(execute_request({fake_target("quick")}));
  ASSERT_TRUE(pump_until([&] { return fake_->running() == 1; }));
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(await_void(service_->shutdown(3s)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "shutdown waited for the whole grace";
  EXPECT_TRUE(fake_->cancelled().empty());
  drain();
  auto saved = stored(jid);
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->state, JobState::Done);
  EXPECT_EQ(saved->runs.at("quick").result.stdout_data, "bye\n");
}

}  // namespace
}  // namespace steward::jobs
