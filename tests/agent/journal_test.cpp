#include "agent/journal.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_dir.hpp"

namespace steward::agent {
namespace {

using namespace std::chrono_literals;

v1::Exit exit_with(const std::string& id, int code, const std::string& out) {
  v1::Exit exit;
  exit.set_op_id(id);
  exit.set_exit_code(code);
  exit.set_stdout(out);
  return exit;
}

TEST(Journal, RejectsOpIdsThatAreNotPlainNames) {
  EXPECT_TRUE(valid_op_id("op-0123abcd_x"));
  EXPECT_FALSE(valid_op_id(""));
  EXPECT_FALSE(valid_op_id("../etc/passwd"));
  EXPECT_FALSE(valid_op_id("a.b"));
  EXPECT_FALSE(valid_op_id(std::string(65, 'a')));
}

TEST(Journal, AStartedOpSurvivesARestartAsLostAndIsNeverRunning) {
  auto dir = testing::fresh_test_dir("journal").string();
  {
    auto journal = Journal::open(dir, 1h);
    ASSERT_TRUE(journal);
    ASSERT_TRUE(journal->record_start("op-1"));
    EXPECT_TRUE(journal->knows("op-1"));
    EXPECT_FALSE(journal->finished("op-1"));
  }
  auto reopened = Journal::open(dir, 1h);
  ASSERT_TRUE(reopened);
  ASSERT_TRUE(reopened->knows("op-1"));
  ASSERT_TRUE(reopened->finished("op-1"));
  auto results = reopened->unacknowledged();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NE(results[0]->error().find("result is lost"), std::string::npos);
  EXPECT_EQ(results[0]->error_code(), static_cast<int>(ErrorCode::Unreachable));
  std::filesystem::remove_all(dir);
}

TEST(Journal, AFinishedResultIsKeptUntilAcknowledged) {
  auto dir = testing::fresh_test_dir("journal").string();
  {
    auto journal = Journal::open(dir, 1h);
    ASSERT_TRUE(journal);
    ASSERT_TRUE(journal->record_start("op-2"));
    ASSERT_TRUE(journal->record_exit(exit_with("op-2", 3, "hello")));
  }
  auto reopened = Journal::open(dir, 1h);
  ASSERT_TRUE(reopened);
  auto known = reopened->known();
  ASSERT_EQ(known.size(), 1u);
  EXPECT_EQ(known[0].state(), v1::KnownOperation::FINISHED);
  auto results = reopened->unacknowledged();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]->exit_code(), 3);
  EXPECT_EQ(results[0]->stdout(), "hello");
  reopened->forget("op-2");
  EXPECT_FALSE(reopened->knows("op-2"));
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

TEST(Journal, ResultsOlderThanKeepResultsExpireButRunningOpsStay) {
  auto dir = testing::fresh_test_dir("journal").string();
  auto journal = Journal::open(dir, 60s);
  ASSERT_TRUE(journal);
  ASSERT_TRUE(journal->record_start("done"));
  ASSERT_TRUE(journal->record_exit(exit_with("done", 0, "")));
  ASSERT_TRUE(journal->record_start("running"));
  EXPECT_EQ(journal->expire(Journal::Clock::now() + 30s), 0u);
  EXPECT_EQ(journal->expire(Journal::Clock::now() + 120s), 1u);
  EXPECT_FALSE(journal->knows("done"));
  EXPECT_TRUE(journal->knows("running"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace steward::agent
