#include "inventory/target_health.hpp"

#include <gtest/gtest.h>

#include "inventory/inventory.hpp"

namespace steward::inventory {
namespace {

Inventory two_hosts() { return *Inventory::parse_ini("web1\nweb2 ansible_connection=local\n", "test"); }

OpResult result_of(OpState state, std::string error = "") {
  OpResult result;
  result.state = state;
  result.error = std::move(error);
  return result;
}

TEST(TargetHealth, KnowsNothingBeforeARunFinishes) {
  const auto inventory = two_hosts();
  TargetHealth health(inventory);
  EXPECT_FALSE(health.last("web1"));
}

TEST(TargetHealth, AnUnreachableRunMakesTheHostUnreachableWithItsError) {
  const auto inventory = two_hosts();
  TargetHealth health(inventory);
  health.record("web1", result_of(OpState::Unreachable, "connect to 10.0.0.1:22: refused"), 100);
  auto last = health.last("web1");
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->reachable);
  EXPECT_EQ(last->when, 100);
  EXPECT_EQ(last->error, "connect to 10.0.0.1:22: refused");
  EXPECT_FALSE(health.last("web2"));
}

TEST(TargetHealth, AFailedCommandStillReachedTheHost) {
  const auto inventory = two_hosts();
  TargetHealth health(inventory);
  health.record("web1", result_of(OpState::Unreachable, "refused"), 100);
  health.record("web1", result_of(OpState::Failed, "exit 1"), 200);
  auto last = health.last("web1");
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->reachable);
  EXPECT_EQ(last->when, 200);
  EXPECT_EQ(last->error, "");
}

TEST(TargetHealth, AnOlderRunFinishingLateChangesNothing) {
  const auto inventory = two_hosts();
  TargetHealth health(inventory);
  health.record("web1", result_of(OpState::Ok), 200);
  health.record("web1", result_of(OpState::Unreachable, "refused"), 150);
  EXPECT_TRUE(health.last("web1")->reachable);
  EXPECT_EQ(health.last("web1")->when, 200);
}

TEST(TargetHealth, SkippedRunsSayNothing) {
  const auto inventory = two_hosts();
  TargetHealth health(inventory);
  health.record("web1", result_of(OpState::Skipped, "skipped: 2 of 10 targets failed"), 100);
  health.record("web1", result_of(OpState::Announce), 100);
  EXPECT_FALSE(health.last("web1"));
}

TEST(TargetHealth, KeepsOnlyInventoryHosts) {
  auto inventory = two_hosts();
  TargetHealth health(inventory);
  health.record("steward-server", result_of(OpState::Ok), 100);  // a pipeline's target, not a host
  EXPECT_FALSE(health.last("steward-server"));
  ASSERT_TRUE(inventory.add_callback_host("vm1", {}));
  health.record("vm1", result_of(OpState::Ok), 100);
  EXPECT_TRUE(health.last("vm1"));
  ASSERT_TRUE(inventory.remove_callback_host("vm1"));
  health.forget_missing();
  EXPECT_FALSE(health.last("vm1"));
}

}  // namespace
}  // namespace steward::inventory
