#include "core/loop_watchdog.hpp"

#include <gtest/gtest.h>

namespace steward {
namespace {

using namespace std::chrono_literals;
using Clock = StallDetector::Clock;

class StallDetectorTest : public ::testing::Test {
 protected:
  StallDetector detector_{50ms, 100ms, 10s};
  Clock::time_point t0_ = Clock::time_point(1h);
};

TEST_F(StallDetectorTest, BeatsOnTimeAreNoStall) {
  detector_.beat(t0_);
  EXPECT_FALSE(detector_.check(t0_ + 40ms));
  detector_.beat(t0_ + 50ms);
  EXPECT_FALSE(detector_.check(t0_ + 50ms + 150ms));  // 100 ms late: at the threshold, not over
  EXPECT_EQ(detector_.stalls(), 0u);
}

TEST_F(StallDetectorTest, ALateBeatIsReportedOncePerStall) {
  detector_.beat(t0_);
  auto stall = detector_.check(t0_ + 50ms + 120ms);
  ASSERT_TRUE(stall);
  EXPECT_EQ(stall->held, 120ms);
  EXPECT_EQ(stall->unreported, 0u);
  EXPECT_FALSE(detector_.check(t0_ + 50ms + 500ms));  // the same stall, still going on
  EXPECT_EQ(detector_.stalls(), 1u);
}

TEST_F(StallDetectorTest, StallsWithinTheQuietIntervalAreCountedNotReported) {
  detector_.beat(t0_);
  ASSERT_TRUE(detector_.check(t0_ + 200ms));
  detector_.beat(t0_ + 1s);
  EXPECT_FALSE(detector_.check(t0_ + 1s + 200ms));
  detector_.beat(t0_ + 20s);
  auto later = detector_.check(t0_ + 20s + 200ms);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->unreported, 1u);
  EXPECT_EQ(detector_.stalls(), 3u);
}

TEST(LoopActivity, TheLastNotedRouteIsCurrent) {
  note_loop_activity("GET /jobs");
  note_loop_activity("GET /jobs/:jid");
  EXPECT_EQ(current_loop_activity(), "GET /jobs/:jid");
}

}  // namespace
}  // namespace steward
