#include "jobs/host_lanes.hpp"

#include <gtest/gtest.h>

namespace steward::jobs {
namespace {

TEST(HostLanesTest, FirstComeFirstServedPerOperationAndHost) {
  HostLanes lanes;
  EXPECT_TRUE(lanes.enter("deploy", "a", "j1"));
  EXPECT_FALSE(lanes.enter("deploy", "a", "j2"));
  EXPECT_FALSE(lanes.enter("deploy", "a", "j3"));
  EXPECT_TRUE(lanes.enter("deploy", "b", "j2")) << "another host has its own line";
  EXPECT_TRUE(lanes.enter("tasks", "a", "j4")) << "another operation has its own line";
  EXPECT_TRUE(lanes.enter("deploy", "a", "j1")) << "entering twice keeps the place";

  EXPECT_TRUE(lanes.first("deploy", "a", "j1"));
  EXPECT_FALSE(lanes.first("deploy", "a", "j2"));
  EXPECT_EQ(lanes.leave("deploy", "a", "j1"), std::optional<std::string>("j2"));
  EXPECT_TRUE(lanes.first("deploy", "a", "j2"));
}

TEST(HostLanesTest, LeavingFromBehindChangesNoTurn) {
  HostLanes lanes;
  lanes.enter("deploy", "a", "j1");
  lanes.enter("deploy", "a", "j2");
  lanes.enter("deploy", "a", "j3");
  EXPECT_EQ(lanes.leave("deploy", "a", "j2"), std::nullopt);
  EXPECT_EQ(lanes.leave("deploy", "a", "j1"), std::optional<std::string>("j3"));
  EXPECT_EQ(lanes.leave("deploy", "a", "unknown"), std::nullopt);
  EXPECT_EQ(lanes.leave("deploy", "a", "j3"), std::nullopt);
  EXPECT_TRUE(lanes.occupied("deploy", {"a"}).empty()) << "an empty line is gone";
}

TEST(HostLanesTest, OccupiedNamesTheHostsAndTheJobsFirstThere) {
  HostLanes lanes;
  lanes.enter("deploy", "a", "j1");
  lanes.enter("deploy", "b", "j2");
  lanes.enter("deploy", "b", "j3");
  auto holders = lanes.occupied("deploy", {"a", "b", "c"});
  ASSERT_EQ(holders.size(), 2u);
  EXPECT_EQ(holders[0].host, "a");
  EXPECT_EQ(holders[0].jid, "j1");
  EXPECT_EQ(holders[1].host, "b");
  EXPECT_EQ(holders[1].jid, "j2");
  EXPECT_TRUE(lanes.occupied("tasks", {"a", "b"}).empty());
}

}  // namespace
}  // namespace steward::jobs
