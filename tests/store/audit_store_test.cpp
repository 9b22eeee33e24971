#include <gtest/gtest.h>

#include "store/store.hpp"
#include "store/store_fixture.hpp"

namespace steward::store {
namespace {

class AuditStoreTest : public StoreFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  AuditStoreTest() : StoreFixture(GetParam()) {}
  void SetUp() override {
    prepare("audit");
    store_ = open();
    ASSERT_TRUE(store_);
  }
  void stores_closed() override { store_.reset(); }
  void reopen() {
    store_.reset();
    store_ = open();
    ASSERT_TRUE(store_);
  }

  static AuditEntry entry(double at, std::string who, std::string action, std::vector<std::string> targets) {
    return {at, std::move(who), "127.0.0.1", "rest", std::move(action), "/x", std::move(targets), "", 201, ""};
  }
  // After a flush: appends are not awaited.
  std::vector<AuditEntry> list(AuditFilter filter) {
    EXPECT_TRUE(sync(store_->flush()).ok());
    auto listed = sync(store_->list_audit(std::move(filter)));
    EXPECT_TRUE(listed.ok()) << listed.error().message;
    return listed.ok() ? *listed : std::vector<AuditEntry>{};
  }
  static std::vector<double> times(const std::vector<AuditEntry>& entries) {
    std::vector<double> out;
    for (const auto& e : entries) out.push_back(e.at);
    return out;
  }
  std::unique_ptr<Store> store_;
};
INSTANTIATE_STORE_CONTRACT(AuditStoreTest);

TEST_P(AuditStoreTest, PruningDeletesEntriesRecordedBeforeTheCutoffOldestFirstInBatches) {
  for (double at : {100.0, 200.0, 250.0, 300.0}) store_->append_audit(entry(at, "ci", "POST /execute", {"web1"}));
  ASSERT_TRUE(sync(store_->flush()).ok());
  auto pruned = sync(store_->prune_audit(250, 1));
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(*pruned, 1u) << "at most as many as asked";
  EXPECT_EQ(times(list({})), (std::vector<double>{300, 250, 200})) << "the oldest first";
  EXPECT_EQ(*sync(store_->prune_audit(250, 10)), 1u);
  EXPECT_EQ(times(list({})), (std::vector<double>{300, 250}));
  EXPECT_EQ(*sync(store_->prune_audit(250, 10)), 0u);
}

TEST_P(AuditStoreTest, EveryFieldSurvivesAReopen) {
  AuditEntry full{1000.25, "ci", "10.0.0.7", "rest", "DELETE /jobs/:jid", "/jobs/abc", {"web1", "web2"},
                  "abc", 404, "no such job: abc"};
  store_->append_audit(full);
  ASSERT_TRUE(sync(store_->flush()).ok());
  reopen();
  auto listed = list({});
  ASSERT_EQ(listed.size(), 1u);
  const auto& got = listed[0];
  EXPECT_EQ(got.at, 1000.25);
  EXPECT_EQ(got.who, "ci");
  EXPECT_EQ(got.peer, "10.0.0.7");
  EXPECT_EQ(got.api, "rest");
  EXPECT_EQ(got.action, "DELETE /jobs/:jid");
  EXPECT_EQ(got.path, "/jobs/abc");
  EXPECT_EQ(got.targets, (std::vector<std::string>{"web1", "web2"}));
  EXPECT_EQ(got.subject, "abc");
  EXPECT_EQ(got.status, 404);
  EXPECT_EQ(got.error, "no such job: abc");
}

TEST_P(AuditStoreTest, NewestFirstAndTiesLatestAppendedFirst) {
  store_->append_audit(entry(10, "a", "POST /ping", {}));
  store_->append_audit(entry(30, "b", "POST /ping", {}));
  store_->append_audit(entry(20, "c", "POST /ping", {}));
  store_->append_audit(entry(30, "d", "POST /ping", {}));
  auto listed = list({});
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(times(listed), (std::vector<double>{30, 30, 20, 10}));
  EXPECT_EQ(listed[0].who, "d");
  EXPECT_EQ(listed[1].who, "b");
}

TEST_P(AuditStoreTest, FiltersCombineAndLimitCaps) {
  store_->append_audit(entry(1, "ci", "POST /execute", {"web1", "web2"}));
  store_->append_audit(entry(2, "ops", "POST /execute", {"web2"}));
  store_->append_audit(entry(3, "ci", "DELETE /jobs/:jid", {}));
  store_->append_audit(entry(4, "ci", "POST /execute", {"db1"}));
  store_->append_audit(entry(5, "ci", "POST /execute", {"web1"}));

  EXPECT_EQ(times(list({.who = "ci"})), (std::vector<double>{5, 4, 3, 1}));
  EXPECT_EQ(times(list({.target = "web2"})), (std::vector<double>{2, 1}));
  EXPECT_EQ(times(list({.target = "web"})), std::vector<double>{}) << "a target matches whole names only";
  EXPECT_EQ(times(list({.action = "DELETE /jobs/:jid"})), (std::vector<double>{3}));
  EXPECT_EQ(times(list({.since = 2, .until = 4})), (std::vector<double>{4, 3, 2})) << "bounds are inclusive";
  EXPECT_EQ(times(list({.who = "ci", .target = "web1", .action = "POST /execute"})),
            (std::vector<double>{5, 1}));
  EXPECT_EQ(times(list({.who = "ci", .limit = 2})), (std::vector<double>{5, 4}));
  EXPECT_EQ(times(list({.who = "nobody"})), std::vector<double>{});
  EXPECT_EQ(times(list({.limit = 0})), std::vector<double>{});
}

TEST_P(AuditStoreTest, AFilteredListingReadsPastOneBatch) {
  for (int i = 0; i < 1200; ++i) store_->append_audit(entry(i, i % 400 == 0 ? "rare" : "bulk", "POST /ping", {}));
  EXPECT_EQ(times(list({.who = "rare"})), (std::vector<double>{800, 400, 0}));
}

}  // namespace
}  // namespace steward::store
