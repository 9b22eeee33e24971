// Two servers on one store (two store objects on a SQLite file or a Redis)
// see the same reachability of a host, and a restarted one gets it back.
#include "inventory/shared_health.hpp"

#include <gtest/gtest.h>

#include "inventory/inventory.hpp"
#include "store/store_fixture.hpp"

namespace steward::inventory {
namespace {

class SharedHealthTest : public store::StoreFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  SharedHealthTest() : StoreFixture(GetParam()) {}
  void SetUp() override { prepare("shared-health"); }
  void stores_closed() override {
    a_.reset();
    b_.reset();
  }
  void share(TargetHealth& health, store::Store& store) {
    sync([&]() -> boost::asio::awaitable<bool> {
      co_await share_health_once(health, store);
      co_return true;
    }());
  }
  static OpResult ended(OpState state, std::string error = "") {
    OpResult result;
    result.state = state;
    result.error = std::move(error);
    return result;
  }

  Inventory inventory_ = *Inventory::parse_ini("web1\nweb2\n", "test");
  std::unique_ptr<store::Store> a_, b_;
};
INSTANTIATE_STORE_CONTRACT(SharedHealthTest);

TEST_P(SharedHealthTest, WhatOneServerSawAnotherShowsAndARestartKeeps) {
  a_ = open();
  b_ = open();
  TargetHealth on_a(inventory_), on_b(inventory_);
  on_a.record("web1", ended(OpState::Unreachable, "connect to 10.0.0.1:22: refused"), 1000);
  on_b.record("web2", ended(OpState::Ok), 1001);
  share(on_a, *a_);
  share(on_b, *b_);
  share(on_a, *a_);

  for (const TargetHealth* health : {&on_a, &on_b}) {
    auto web1 = health->last("web1");
    ASSERT_TRUE(web1);
    EXPECT_FALSE(web1->reachable);
    EXPECT_EQ(web1->when, 1000);
    EXPECT_EQ(web1->error, "connect to 10.0.0.1:22: refused");
    ASSERT_TRUE(health->last("web2"));
    EXPECT_TRUE(health->last("web2")->reachable);
  }

  b_.reset();
  b_ = open();
  TargetHealth restarted(inventory_);
  share(restarted, *b_);
  ASSERT_TRUE(restarted.last("web1"));
  EXPECT_FALSE(restarted.last("web1")->reachable);
}

}  // namespace
}  // namespace steward::inventory
