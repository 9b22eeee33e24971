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

std::vector<std::string> hosts_of(const std::vector<std::pair<std::string, TargetSighting>>& due) {
  std::vector<std::string> hosts;
  for (const auto& [host, seen] : due) hosts.push_back(host);
  return hosts;
}

// What a share round that succeeds does: each due sighting written, then marked.
std::vector<std::pair<std::string, TargetSighting>> take_unshared(TargetHealth& health) {
  auto due = health.unshared();
  for (const auto& [host, seen] : due) health.mark_shared(host, seen);
  return due;
}

TEST(TargetHealth, ASightingStaysDueUntilTheStoreHasIt) {
  const auto inventory = two_hosts();
  TargetHealth health(inventory);
  health.record("web1", result_of(OpState::Unreachable, "refused"), 100);
  EXPECT_EQ(hosts_of(health.unshared()), std::vector<std::string>{"web1"});
  EXPECT_EQ(hosts_of(health.unshared()), std::vector<std::string>{"web1"}) << "a failed write leaves it due";
  const auto due = health.unshared();
  health.record("web1", result_of(OpState::Ok), 101);  // while the write was in flight
  health.mark_shared("web1", due[0].second);
  auto left = health.unshared();
  ASSERT_EQ(left.size(), 1u) << "the newer sighting says something the store does not have";
  EXPECT_TRUE(left[0].second.reachable);
}

TEST(TargetHealth, ASightingIsSharedWhenItSaysSomethingNewOrItsShareIsOld) {
  const auto inventory = two_hosts();
  TargetHealth health(inventory);
  health.record("web1", result_of(OpState::Ok), 100);
  EXPECT_EQ(hosts_of(take_unshared(health)), std::vector<std::string>{"web1"});
  EXPECT_TRUE(take_unshared(health).empty()) << "once shared";

  health.record("web1", result_of(OpState::Ok), 110);
  EXPECT_TRUE(take_unshared(health).empty()) << "reachable again, 10 s later: nothing new";
  health.record("web1", result_of(OpState::Unreachable, "refused"), 111);
  auto due = take_unshared(health);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_FALSE(due[0].second.reachable);
  EXPECT_EQ(due[0].second.error, "refused");

  health.record("web1", result_of(OpState::Unreachable, "refused"), 111 + TargetHealth::kShareAgeSeconds);
  EXPECT_EQ(hosts_of(take_unshared(health)), std::vector<std::string>{"web1"}) << "the share grew old";
}

TEST(TargetHealth, ASharedSightingIsMergedOnlyWhenNewerAndOfAKnownHost) {
  const auto inventory = two_hosts();
  TargetHealth health(inventory);
  health.record("web1", result_of(OpState::Ok), 200);
  health.merge("web1", {false, 150, "refused"});
  EXPECT_TRUE(health.last("web1")->reachable) << "older than ours";
  health.merge("web1", {false, 250, "refused"});
  EXPECT_FALSE(health.last("web1")->reachable);
  EXPECT_EQ(health.last("web1")->when, 250);
  health.merge("db9", {true, 300, ""});
  EXPECT_FALSE(health.last("db9")) << "not in the inventory";
  (void)take_unshared(health);
  health.merge("web2", {true, 300, ""});
  EXPECT_TRUE(take_unshared(health).empty()) << "what others shared is not shared back";
}

}  // namespace
}  // namespace steward::inventory
