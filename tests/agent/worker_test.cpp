#include "agent/worker.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <fstream>

#include "support/test_dir.hpp"

namespace steward::agent {
namespace {

using namespace std::chrono_literals;

struct Harness {
  explicit Harness(const std::string& dir) : journal(*Journal::open(dir + "/journal", 1h)) {
    worker = std::make_unique<Worker>(io.get_executor(), journal);
    v1::Hello hello;
    worker->connected([this](v1::AgentMessage message) { sent.push_back(std::move(message)); }, hello);
  }
  // Runs the loop until `done` holds (every command here ends quickly).
  template <typename Done>
  void run_until(Done done) {
    while (!done() && io.run_one_for(10s)) {
    }
  }
  std::size_t count(v1::AgentMessage::BodyCase kind) const {
    return std::count_if(sent.begin(), sent.end(), [kind](const auto& m) { return m.body_case() == kind; });
  }

  boost::asio::io_context io;
  Journal journal;
  std::unique_ptr<Worker> worker;
  std::vector<v1::AgentMessage> sent;
};

v1::ServerMessage run_message(const std::string& id, const std::string& command) {
  v1::ServerMessage message;
  message.mutable_run()->set_op_id(id);
  message.mutable_run()->set_command(command);
  return message;
}

TEST(Worker, ARunSentTwiceStartsOnceAndItsResultIsSentAgain) {
  auto dir = testing::fresh_test_dir("worker").string();
  Harness harness(dir);
  auto marker = dir + "/ran";
  auto run = run_message("op-a", "echo once >> " + marker + "; echo out");
  harness.worker->handle(run);
  harness.run_until([&] { return harness.count(v1::AgentMessage::kExit) == 1; });
  harness.worker->handle(run);  // a resend after a reconnect
  harness.run_until([&] { return harness.count(v1::AgentMessage::kExit) == 2; });

  std::ifstream in(marker);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, 1);
  EXPECT_EQ(harness.count(v1::AgentMessage::kAccepted), 2u);
  ASSERT_EQ(harness.count(v1::AgentMessage::kExit), 2u);
  EXPECT_EQ(harness.sent.back().exit().stdout(), "out\n");
  EXPECT_EQ(harness.sent.back().exit().exit_code(), 0);
  std::filesystem::remove_all(dir);
}

TEST(Worker, AnAcknowledgedResultIsForgotten) {
  auto dir = testing::fresh_test_dir("worker").string();
  Harness harness(dir);
  harness.worker->handle(run_message("op-b", "true"));
  harness.run_until([&] { return harness.count(v1::AgentMessage::kExit) == 1; });
  EXPECT_TRUE(harness.journal.knows("op-b"));
  v1::ServerMessage ack;
  ack.mutable_result_ack()->set_op_id("op-b");
  harness.worker->handle(ack);
  EXPECT_FALSE(harness.journal.knows("op-b"));
  std::filesystem::remove_all(dir);
}

TEST(Worker, AGetSendsNoMoreChunksThanItsCredit) {
  auto dir = testing::fresh_test_dir("worker").string();
  Harness harness(dir);
  auto source = dir + "/big";
  std::ofstream(source) << std::string(kFileChunk * 5 + 10, 'x');
  v1::ServerMessage get;
  get.mutable_file_get()->set_op_id("get-1");
  get.mutable_file_get()->set_path(source);
  get.mutable_file_get()->set_window(2);
  harness.worker->handle(get);
  EXPECT_EQ(harness.count(v1::AgentMessage::kFileData), 2u);
  v1::ServerMessage credit;
  credit.mutable_credit()->set_op_id("get-1");
  credit.mutable_credit()->set_chunks(1);
  harness.worker->handle(credit);
  EXPECT_EQ(harness.count(v1::AgentMessage::kFileData), 3u);
  credit.mutable_credit()->set_chunks(10);
  harness.worker->handle(credit);
  // 6 chunks of data, then the last message with the hash.
  ASSERT_EQ(harness.count(v1::AgentMessage::kFileData), 7u);
  EXPECT_TRUE(harness.sent.back().file_data().last());
  EXPECT_EQ(harness.sent.back().file_data().sha256().size(), 64u);
  EXPECT_EQ(harness.worker->transfers(), 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace steward::agent
