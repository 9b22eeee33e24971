#include "transport/agent/hub.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <filesystem>
#include <fstream>

#include "agent.pb.h"
#include "support/test_dir.hpp"

namespace steward::transport::agent {
namespace {

using namespace std::chrono_literals;

struct FakeSession final : AgentSession {
  void send(const v1::ServerMessage& message) override { sent.push_back(message); }
  void close(ErrorCode code, const std::string& reason) override { closed = reason; }
  std::size_t count(v1::ServerMessage::BodyCase kind) const {
    return std::count_if(sent.begin(), sent.end(), [kind](const auto& m) { return m.body_case() == kind; });
  }
  std::vector<v1::ServerMessage> sent;
  std::string closed;
};

v1::Hello hello_knowing(const std::string& op_id, v1::KnownOperation::State state) {
  v1::Hello hello;
  auto* op = hello.add_operations();
  op->set_op_id(op_id);
  op->set_state(state);
  return hello;
}

v1::AgentMessage exit_of(const std::string& op_id, int code, const std::string& out) {
  v1::AgentMessage message;
  message.mutable_exit()->set_op_id(op_id);
  message.mutable_exit()->set_exit_code(code);
  message.mutable_exit()->set_stdout(out);
  return message;
}

struct HubHarness {
  explicit HubHarness(std::chrono::milliseconds wait = 60s) : hub(io.get_executor(), HubOptions{wait}) {}

  // Starts hub.run for `agent`, runs the loop until it has sent what it can.
  void start_run(const std::string& agent, ExecRequest request) {
    boost::asio::co_spawn(io, hub.run(agent, std::move(request), [this](Stream, std::string_view data) {
      streamed.append(data);
    }, make_cancel_token()), [this](std::exception_ptr, Result<ExecOutcome> outcome) { result = std::move(outcome); });
    settle();
  }
  void settle() {
    while (io.poll_one()) {
    }
  }
  template <typename Done>
  void run_until(Done done) {
    while (!done() && io.run_one_for(5s)) {
    }
  }

  boost::asio::io_context io;
  // The hub itself keeps no work on the loop: without this, a loop that ran
  // out of work once would stay stopped.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> busy{io.get_executor()};
  AgentHub hub;
  std::string streamed;
  std::optional<Result<ExecOutcome>> result;
};

ExecRequest echo() {
  ExecRequest request;
  request.command = "echo hi";
  return request;
}

TEST(AgentHub, ARunTheAgentJournaledIsNotSentAgainAfterAReconnect) {
  HubHarness harness;
  auto first = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", first, {}, "peer");
  harness.start_run("agent-1", echo());
  ASSERT_EQ(first->count(v1::ServerMessage::kRun), 1u);
  auto op_id = first->sent.back().run().op_id();
  harness.hub.detach("agent-1", first.get());

  auto second = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", second, hello_knowing(op_id, v1::KnownOperation::FINISHED), "peer");
  harness.settle();
  EXPECT_EQ(second->count(v1::ServerMessage::kRun), 0u);
  harness.hub.receive("agent-1", exit_of(op_id, 0, "hi\n"));
  harness.run_until([&] { return harness.result.has_value(); });
  ASSERT_TRUE(harness.result && *harness.result);
  EXPECT_EQ((*harness.result)->stdout_data, "hi\n");
  EXPECT_EQ(harness.streamed, "hi\n");  // the output the sink missed came from Exit
  EXPECT_EQ(second->count(v1::ServerMessage::kResultAck), 1u);
}

TEST(AgentHub, ARunTheAgentNeverJournaledIsSentAgainAfterAReconnect) {
  HubHarness harness;
  auto first = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", first, {}, "peer");
  harness.start_run("agent-1", echo());
  auto op_id = first->sent.back().run().op_id();
  harness.hub.detach("agent-1", first.get());
  auto second = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", second, {}, "peer");
  ASSERT_EQ(second->count(v1::ServerMessage::kRun), 1u);
  EXPECT_EQ(second->sent.back().run().op_id(), op_id);
}

TEST(AgentHub, AnAcceptedRunTheAgentForgotIsNotRunAgain) {
  HubHarness harness;
  auto first = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", first, {}, "peer");
  harness.start_run("agent-1", echo());
  auto op_id = first->sent.back().run().op_id();
  v1::AgentMessage accepted;
  accepted.mutable_accepted()->set_op_id(op_id);
  harness.hub.receive("agent-1", accepted);
  harness.hub.detach("agent-1", first.get());
  auto second = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", second, {}, "peer");
  harness.run_until([&] { return harness.result.has_value(); });
  EXPECT_EQ(second->count(v1::ServerMessage::kRun), 0u);
  ASSERT_TRUE(harness.result && !*harness.result);
  EXPECT_EQ(harness.result->error().code, ErrorCode::Unreachable);
}

TEST(AgentHub, AnAgentAwayPastAgentWaitEndsItsRunUnreachable) {
  HubHarness harness(50ms);
  harness.start_run("agent-gone", echo());
  harness.run_until([&] { return harness.result.has_value(); });
  ASSERT_TRUE(harness.result && !*harness.result);
  EXPECT_EQ(harness.result->error().code, ErrorCode::Unreachable);
  EXPECT_NE(harness.result->error().message.find("agent agent-gone not connected since"), std::string::npos);
}

TEST(AgentHub, ASecondStreamReplacesTheFirst) {
  HubHarness harness;
  auto first = std::make_shared<FakeSession>();
  auto second = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", first, {}, "peer");
  harness.hub.attach("agent-1", second, {}, "peer");
  EXPECT_NE(first->closed.find("replaced"), std::string::npos);
  harness.hub.detach("agent-1", first.get());  // the old stream's end does not drop the new one
  EXPECT_TRUE(harness.hub.connected("agent-1"));
}

TEST(AgentHub, APutNeverHasMoreChunksInFlightThanItsCredit) {
  HubHarness harness;
  auto dir = testing::fresh_test_dir("hub");
  auto source = (dir / "big").string();
  std::ofstream(source) << std::string(256 * 1024 * 6, 'y');
  auto session = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", session, {}, "peer");
  std::optional<Result<FileOutcome>> copied;
  FileRequest request{source, "/remote/big", std::nullopt, ""};
  boost::asio::co_spawn(harness.io, harness.hub.put_file("agent-1", request, nullptr),
                        [&](std::exception_ptr, Result<FileOutcome> outcome) { copied = std::move(outcome); });
  harness.settle();
  ASSERT_EQ(session->count(v1::ServerMessage::kFilePut), 1u);
  EXPECT_EQ(session->count(v1::ServerMessage::kFileData), 0u);  // no credit yet
  auto op_id = session->sent.back().file_put().op_id();
  // Grants credit, lets the put send what it may (reads run on a disk
  // thread), and returns how many FileData it has sent in all.
  auto grant = [&](std::uint32_t chunks, std::size_t expected) {
    v1::AgentMessage credit;
    credit.mutable_credit()->set_op_id(op_id);
    credit.mutable_credit()->set_chunks(chunks);
    harness.hub.receive("agent-1", credit);
    harness.run_until([&] { return session->count(v1::ServerMessage::kFileData) >= expected; });
    harness.settle();  // the put now waits for credit: nothing more is sent
    return session->count(v1::ServerMessage::kFileData);
  };
  EXPECT_EQ(grant(2, 2), 2u);
  EXPECT_EQ(grant(1, 3), 3u);
  ASSERT_EQ(grant(10, 7), 7u);  // 6 chunks, then the last with the hash
  EXPECT_TRUE(session->sent.back().file_data().last());
  v1::AgentMessage done;
  done.mutable_file_done()->set_op_id(op_id);
  done.mutable_file_done()->set_bytes(256 * 1024 * 6);
  done.mutable_file_done()->set_sha256(session->sent.back().file_data().sha256());
  harness.hub.receive("agent-1", done);
  harness.run_until([&] { return copied.has_value(); });
  ASSERT_TRUE(copied && *copied);
  EXPECT_EQ((*copied)->bytes, 256u * 1024 * 6);
  std::filesystem::remove_all(dir);
}

// settle(): what became of an operation the server sent before it restarted.
struct Settling {
  Settling(HubHarness& harness, const std::string& agent, const std::string& op_id) {
    boost::asio::co_spawn(harness.io, harness.hub.settle(agent, op_id),
                          [this](std::exception_ptr, OrphanOutcome settled) { outcome = std::move(settled); });
    harness.settle();
  }
  std::optional<OrphanOutcome> outcome;
};

TEST(AgentHub, AnOrphanStillRunningIsCancelledAndReportedStopped) {
  HubHarness harness;
  Settling settling(harness, "agent-1", "op-left");
  EXPECT_FALSE(settling.outcome);  // waits for the agent
  auto session = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", session, hello_knowing("op-left", v1::KnownOperation::RUNNING), "peer");
  harness.settle();
  ASSERT_EQ(session->count(v1::ServerMessage::kCancel), 1u);
  EXPECT_EQ(session->sent.back().cancel().op_id(), "op-left");
  EXPECT_FALSE(settling.outcome);  // until its Exit comes
  auto cancelled = exit_of("op-left", -1, "");
  cancelled.mutable_exit()->set_cancelled(true);
  harness.hub.receive("agent-1", cancelled);
  harness.run_until([&] { return settling.outcome.has_value(); });
  ASSERT_TRUE(settling.outcome);
  EXPECT_EQ(settling.outcome->kind, OrphanOutcome::Kind::Stopped);
  EXPECT_EQ(settling.outcome->reason, "its agent stopped operation op-left");
}

TEST(AgentHub, AnOrphanThatEndedWhileTheServerWasDownHasItsExitStatusEvenIfAskedLate) {
  HubHarness harness;
  auto session = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", session, hello_knowing("op-done", v1::KnownOperation::FINISHED), "peer");
  harness.hub.receive("agent-1", exit_of("op-done", 3, "output"));
  EXPECT_EQ(session->count(v1::ServerMessage::kResultAck), 1u);
  Settling settling(harness, "agent-1", "op-done");
  ASSERT_TRUE(settling.outcome);
  EXPECT_EQ(settling.outcome->kind, OrphanOutcome::Kind::Finished);
  EXPECT_EQ(settling.outcome->exit_code, 3);
}

TEST(AgentHub, AnOrphanTheAgentDoesNotKnowOrThatNeverComesBackIsUnknown) {
  HubHarness harness(50ms);
  auto session = std::make_shared<FakeSession>();
  harness.hub.attach("agent-1", session, {}, "peer");
  Settling unknown(harness, "agent-1", "op-lost");
  ASSERT_TRUE(unknown.outcome);
  EXPECT_EQ(unknown.outcome->kind, OrphanOutcome::Kind::Unknown);
  EXPECT_NE(unknown.outcome->reason.find("does not know operation op-lost"), std::string::npos);
  EXPECT_FALSE(unknown.outcome->unreachable);

  Settling away(harness, "agent-gone", "op-away");
  harness.run_until([&] { return away.outcome.has_value(); });
  ASSERT_TRUE(away.outcome);
  EXPECT_EQ(away.outcome->kind, OrphanOutcome::Kind::Unknown);
  EXPECT_TRUE(away.outcome->unreachable);
  EXPECT_NE(away.outcome->reason.find("agent agent-gone not connected since"), std::string::npos);
}

}  // namespace
}  // namespace steward::transport::agent
