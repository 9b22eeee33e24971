#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "store/store.hpp"
#include "store/store_fixture.hpp"

namespace steward::store {
namespace {

namespace fs = std::filesystem;

class TokenStoreBase : public StoreFixture {
 protected:
  explicit TokenStoreBase(std::string backend) : StoreFixture(std::move(backend)) {}
  void SetUp() override { prepare("tokens"); }
  void stores_closed() override { store_.reset(); }
  void reopen() {
    store_.reset();
    store_ = open();
    ASSERT_TRUE(store_);
  }
  static StoredToken token(std::string name, std::string role, std::string hash) {
    return {std::move(name), std::move(role), std::move(hash), 1000.5, 0};
  }
  std::unique_ptr<Store> store_;
};

class TokenStoreTest : public TokenStoreBase, public ::testing::WithParamInterface<std::string> {
 protected:
  TokenStoreTest() : TokenStoreBase(GetParam()) {}
};
INSTANTIATE_STORE_CONTRACT(TokenStoreTest);

class SqliteTokenStoreTest : public TokenStoreBase {
 protected:
  SqliteTokenStoreTest() : TokenStoreBase("sqlite") {}
};

TEST_P(TokenStoreTest, AddListDeleteSurviveReopen) {
  reopen();
  ASSERT_TRUE(sync(store_->add_token(token("ci", "operate", "aa"))).ok());
  ASSERT_TRUE(sync(store_->add_token(token("audit", "read", "bb"))).ok());
  reopen();
  auto listed = sync(store_->list_tokens());
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "audit");  // by name
  EXPECT_EQ((*listed)[0].role, "read");
  EXPECT_EQ((*listed)[1].hash, "aa");
  EXPECT_EQ((*listed)[1].created, 1000.5);
  EXPECT_EQ((*listed)[1].last_used, 0);

  EXPECT_TRUE(*sync(store_->delete_token("ci")));
  EXPECT_FALSE(*sync(store_->delete_token("ci"))) << "a second delete finds nothing";
  reopen();
  ASSERT_EQ(sync(store_->list_tokens())->size(), 1u);
}

TEST_P(TokenStoreTest, ATakenNameIsAConflictAndKeepsTheFirst) {
  reopen();
  ASSERT_TRUE(sync(store_->add_token(token("ci", "operate", "aa"))).ok());
  auto again = sync(store_->add_token(token("ci", "admin", "cc")));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_NE(again.error().message.find("'ci'"), std::string::npos);
  auto listed = sync(store_->list_tokens());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].role, "operate");
  // The writer's batch went on: later writes still land.
  EXPECT_TRUE(sync(store_->add_token(token("other", "read", "dd"))).ok());
}

TEST_P(TokenStoreTest, LastUseIsRecordedAndNeverGoesBack) {
  reopen();
  ASSERT_TRUE(sync(store_->add_token(token("ci", "operate", "aa"))).ok());
  store_->note_token_used("ci", 2000);
  store_->note_token_used("ci", 1500);  // an older note arriving late
  store_->note_token_used("unknown", 3000);
  ASSERT_TRUE(sync(store_->flush()).ok());
  auto listed = sync(store_->list_tokens());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].last_used, 2000);
}

// A database written before tokens existed: jobs and no tokens table.
TEST_F(SqliteTokenStoreTest, ADatabaseFromBeforeTokensGainsTheTableAndKeepsItsJobs) {
  const std::string path = (dir_ / "steward.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* old_schema =
      "CREATE TABLE jobs(jid TEXT PRIMARY KEY, state INTEGER NOT NULL, error TEXT NOT NULL, startat REAL NOT NULL, "
      "finishat REAL NOT NULL, operate TEXT NOT NULL, operate_args TEXT NOT NULL, targets TEXT NOT NULL);"
      "INSERT INTO jobs VALUES('old-job', 0, '', 10, 11, 'ping', '{}', '[\"web1\"]');";
  ASSERT_EQ(sqlite3_exec(db, old_schema, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  reopen();
  auto job = sync(store_->load_job("old-job", {}));
  ASSERT_TRUE(job.ok()) << job.error().message;
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->operate, "ping");
  EXPECT_TRUE(sync(store_->list_tokens())->empty());
  EXPECT_TRUE(sync(store_->add_token(token("ci", "operate", "aa"))).ok());
}

}  // namespace
}  // namespace steward::store
