#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "store/store.hpp"
#include "support/run_sync.hpp"
#include "support/test_dir.hpp"

namespace steward::store {
namespace {

using testing::run_sync;
namespace fs = std::filesystem;

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = steward::testing::fresh_test_dir("tokens"); }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void open() {
    store_.reset();
    auto opened = open_store({"", dir_.string()});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }
  static StoredToken token(std::string name, std::string role, std::string hash) {
    return {std::move(name), std::move(role), std::move(hash), 1000.5, 0};
  }
  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(TokenStoreTest, AddListDeleteSurviveReopen) {
  open();
  ASSERT_TRUE(run_sync(store_->add_token(token("ci", "operate", "aa"))).ok());
  ASSERT_TRUE(run_sync(store_->add_token(token("audit", "read", "bb"))).ok());
  open();
  auto listed = run_sync(store_->list_tokens());
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "audit");  // by name
  EXPECT_EQ((*listed)[0].role, "read");
  EXPECT_EQ((*listed)[1].hash, "aa");
  EXPECT_EQ((*listed)[1].created, 1000.5);
  EXPECT_EQ((*listed)[1].last_used, 0);

  EXPECT_TRUE(*run_sync(store_->delete_token("ci")));
  EXPECT_FALSE(*run_sync(store_->delete_token("ci"))) << "a second delete finds nothing";
  open();
  ASSERT_EQ(run_sync(store_->list_tokens())->size(), 1u);
}

TEST_F(TokenStoreTest, ATakenNameIsAConflictAndKeepsTheFirst) {
  open();
  ASSERT_TRUE(run_sync(store_->add_token(token("ci", "operate", "aa"))).ok());
  auto again = run_sync(store_->add_token(token("ci", "admin", "cc")));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_NE(again.error().message.find("'ci'"), std::string::npos);
  auto listed = run_sync(store_->list_tokens());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].role, "operate");
  // The writer's batch went on: later writes still land.
  EXPECT_TRUE(run_sync(store_->add_token(token("other", "read", "dd"))).ok());
}

TEST_F(TokenStoreTest, LastUseIsRecordedAndNeverGoesBack) {
  open();
  ASSERT_TRUE(run_sync(store_->add_token(token("ci", "operate", "aa"))).ok());
  store_->note_token_used("ci", 2000);
  store_->note_token_used("ci", 1500);  // an older note arriving late
  store_->note_token_used("unknown", 3000);
  ASSERT_TRUE(run_sync(store_->flush()).ok());
  auto listed = run_sync(store_->list_tokens());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].last_used, 2000);
}

// A database written before tokens existed: jobs and no tokens table.
TEST_F(TokenStoreTest, ADatabaseFromBeforeTokensGainsTheTableAndKeepsItsJobs) {
  const std::string path = (dir_ / "steward.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* old_schema =
      "CREATE TABLE jobs(jid TEXT PRIMARY KEY, state INTEGER NOT NULL, error TEXT NOT NULL, startat REAL NOT NULL, "
      "finishat REAL NOT NULL, operate TEXT NOT NULL, operate_args TEXT NOT NULL, targets TEXT NOT NULL);"
      "INSERT INTO jobs VALUES('old-job', 0, '', 10, 11, 'ping', '{}', '[\"web1\"]');";
  ASSERT_EQ(sqlite3_exec(db, old_schema, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  open();
  auto job = run_sync(store_->load_job("old-job", {}));
  ASSERT_TRUE(job.ok()) << job.error().message;
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->operate, "ping");
  EXPECT_TRUE(run_sync(store_->list_tokens())->empty());
  EXPECT_TRUE(run_sync(store_->add_token(token("ci", "operate", "aa"))).ok());
}

}  // namespace
}  // namespace steward::store
