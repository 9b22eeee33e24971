#include "packages/conditions.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <filesystem>

#include "core/manual_clock.hpp"
#include "fakes/fake_transport.hpp"
#include "sched/grid.hpp"
#include "sched/scheduler.hpp"
#include "support/test_dir.hpp"

namespace steward::packages {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steward::testing::FakeScript;
using steward::testing::FakeTransport;

TEST(ConditionOutputTest, TakesTheLastLineAsADecimal) {
  EXPECT_EQ(parse_condition_output("0.5\n"), 0.5);
  EXPECT_EQ(parse_condition_output("checking...\n0.25\n\n"), 0.25);
  EXPECT_EQ(parse_condition_output("  +1 "), 1.0);
  EXPECT_EQ(parse_condition_output("1e-1"), 0.1);
  EXPECT_EQ(parse_condition_output("7"), 7.0);
  EXPECT_FALSE(parse_condition_output("").has_value());
  EXPECT_FALSE(parse_condition_output("yes").has_value());
  EXPECT_FALSE(parse_condition_output("0.5 apples").has_value());
  EXPECT_FALSE(parse_condition_output("nan").has_value());
  EXPECT_FALSE(parse_condition_output("inf").has_value());
}

TEST(TimeGridTest, SlotsStayOnTheGridWhateverRunsTake) {
  SteadyTime start{};
  sched::TimeGrid grid(start, 1s);
  std::uint64_t skipped = 0;
  EXPECT_EQ(grid.next(start, skipped), start);
  EXPECT_EQ(grid.next(start + 300ms, skipped), start + 1s);   // a run took 300 ms: no drift
  EXPECT_EQ(grid.next(start + 1900ms, skipped), start + 2s);  // 900 ms: still on the grid
  EXPECT_EQ(skipped, 0u);
  // The loop was stalled past the next slot by more than an interval: that slot is
  // skipped, not run late in a burst.
  EXPECT_EQ(grid.next(start + 4500ms, skipped), start + 4s);
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(grid.next(start + 4600ms, skipped), start + 5s);
}

// On a ManualClock the grid's runs happen when the clock reaches their
// slots, one per interval, and never while time stands still.
TEST(ConditionGridClockTest, RunsOnlyWhenTheClockReachesEachSlot) {
  const auto dir = steward::testing::fresh_test_dir("cond-grid");
  auto store = store::open_store({"", dir.string()});
  ASSERT_TRUE(store) << store.error().message;
  auto fake = std::make_shared<FakeTransport>();
  fake->script("vm-grid", FakeScript::exits(0, {"0.5\n"}));
  transport::TransportRegistry transports;
  ASSERT_TRUE(transports.add("fake", fake).ok());
  ManualClock clock;
  std::vector<double> values;
  {
    boost::asio::io_context io;
    sched::Scheduler scheduler(io.get_executor(), clock, 8);
    ConditionHub hub(io.get_executor(), scheduler, transports, **store, Pacing::Grid);
    Target target;
    target.name = "vm-grid";
    target.connection = "fake";
    hub.subscribe(ConditionSpec{"grid", target, "check", {}, 10s},
                  [&values](const store::ConditionValue& value) { values.push_back(value.value); },
                  [](const Error&) {});
    io.poll();
    // The first slot is within the first interval (its phase), at once only for phase 0.
    const std::size_t at_start = values.size();
    EXPECT_LE(at_start, 1u);
    io.poll();
    EXPECT_EQ(values.size(), at_start);
    clock.advance(100s, [&io] { io.poll(); });
    EXPECT_EQ(values.size(), at_start + 10);
    clock.advance(9s, [&io] { io.poll(); });
    EXPECT_LE(values.size(), at_start + 11);
    hub.stop_all(make_error(ErrorCode::Unavailable, "test over"));
    io.poll();
    EXPECT_EQ(clock.waiting(), 0u);
  }
  store->reset();
  fs::remove_all(dir);
}

class ConditionHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("cond");
    auto opened = store::open_store({"", dir_.string()});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
    fake_ = std::make_shared<FakeTransport>();
    EXPECT_TRUE(transports_.add("fake", fake_).ok());
    scheduler_ = std::make_unique<sched::Scheduler>(io_.get_executor(), clock_, 8);
    hub_ = std::make_unique<ConditionHub>(io_.get_executor(), *scheduler_, transports_, *store_, Pacing::Grid);
  }

  void TearDown() override {
    hub_->stop_all(make_error(ErrorCode::Unavailable, "teardown"));
    io_.run_for(200ms);
    hub_.reset();
    scheduler_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  ConditionSpec spec(const std::string& id, std::chrono::milliseconds interval = 50ms) {
    Target target;
    target.name = "vm-" + id;
    target.connection = "fake";
    return ConditionSpec{id, target, "check", {}, interval};
  }

  std::uint64_t subscribe(const ConditionSpec& spec, std::vector<double>& values) {
    return hub_->subscribe(
        spec, [&values](const store::ConditionValue& value) { values.push_back(value.value); },
        [](const Error&) {});
  }

  boost::asio::io_context io_;
  SystemClock clock_;
  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<FakeTransport> fake_;
  transport::TransportRegistry transports_;
  std::unique_ptr<sched::Scheduler> scheduler_;
  std::unique_ptr<ConditionHub> hub_;
};

TEST_F(ConditionHubTest, SubscribersShareOneRunnerThatStopsWhenTheLastLeaves) {
  fake_->script("vm-a", FakeScript::exits(0, {"0.5\n"}));
  std::vector<double> first, second;
  auto one = subscribe(spec("a"), first);
  auto two = subscribe(spec("a"), second);
  EXPECT_EQ(hub_->subscribers("a"), 2u);
  io_.run_for(520ms);
  ASSERT_GE(first.size(), 8u);
  EXPECT_EQ(first, second);  // one runner feeds both
  EXPECT_EQ(first.front(), 0.5);
  EXPECT_EQ(hub_->counters("a")->runs, first.size());  // not one run per subscriber

  hub_->unsubscribe("a", one);
  io_.run_for(120ms);
  EXPECT_GT(second.size(), first.size());  // the other subscriber still gets values
  hub_->unsubscribe("a", two);
  io_.run_for(100ms);  // a run already queued may still end
  auto runs = hub_->counters("a")->runs;
  io_.run_for(300ms);
  EXPECT_EQ(hub_->counters("a")->runs, runs) << "the runner kept running without subscribers";
  EXPECT_EQ(hub_->subscribers("a"), 0u);
}

TEST_F(ConditionHubTest, PassesOutOfRangeValuesOnUnchangedAndSkipsUnparsableOutput) {
  fake_->script("vm-big", FakeScript::exits(0, {"7\n"}));
  fake_->script("vm-negative", FakeScript::exits(0, {"-0.5\n"}));
  fake_->script("vm-text", FakeScript::exits(0, {"ready\n"}));
  std::vector<double> big, negative, text;
  subscribe(spec("big"), big);
  subscribe(spec("negative"), negative);
  subscribe(spec("text"), text);
  io_.run_for(230ms);
  ASSERT_FALSE(big.empty());
  ASSERT_FALSE(negative.empty());
  for (double value : big) EXPECT_EQ(value, 7.0);
  for (double value : negative) EXPECT_EQ(value, -0.5);
  EXPECT_EQ(hub_->counters("big")->out_of_range, big.size());
  EXPECT_EQ(hub_->counters("big")->last->value, 7.0);
  EXPECT_EQ(hub_->counters("negative")->out_of_range, negative.size());
  EXPECT_TRUE(text.empty());
  EXPECT_GE(hub_->counters("text")->unparsable, 3u);
  EXPECT_EQ(hub_->counters("text")->out_of_range, 0u);
}

TEST_F(ConditionHubTest, SurvivesAnUnreachableTargetAndResumes) {
  fake_->script("vm-u", FakeScript::fails(ErrorCode::Unreachable, "connection refused"));
  std::vector<double> values;
  subscribe(spec("u"), values);
  io_.run_for(230ms);
  EXPECT_TRUE(values.empty());
  auto skipped = hub_->counters("u")->skipped_unreachable;
  EXPECT_GE(skipped, 3u);
  fake_->script("vm-u", FakeScript::exits(0, {"0.3"}));
  io_.run_for(230ms);
  ASSERT_GE(values.size(), 3u);
  EXPECT_EQ(values.back(), 0.3);
  EXPECT_EQ(hub_->counters("u")->skipped_unreachable, skipped);
}

TEST_F(ConditionHubTest, ASlowRunSkipsSlotsInsteadOfPilingUp) {
  fake_->script("vm-slow", FakeScript::exits(0, {"1"}).after(120ms));
  std::vector<double> values;
  subscribe(spec("slow"), values);
  io_.run_for(530ms);
  auto counters = *hub_->counters("slow");
  EXPECT_GE(counters.skipped_busy, 3u);
  EXPECT_LE(counters.runs, 5u);
  EXPECT_GE(values.size(), 3u);
}

TEST_F(ConditionHubTest, TotalsSumEveryConditionsCounters) {
  fake_->script("vm-good", FakeScript::exits(0, {"0.5"}));
  fake_->script("vm-text", FakeScript::exits(0, {"ready\n"}));
  fake_->script("vm-down", FakeScript::fails(ErrorCode::Unreachable, "connection refused"));
  std::vector<double> good, text, down;
  subscribe(spec("good"), good);
  subscribe(spec("text"), text);
  subscribe(spec("down"), down);
  EXPECT_EQ(hub_->runners(), 3u);
  io_.run_for(230ms);
  const auto totals = hub_->totals();
  std::uint64_t runs = 0;
  for (const char* id : {"good", "text", "down"}) runs += hub_->counters(id)->runs;
  EXPECT_EQ(totals.runs, runs);
  EXPECT_EQ(totals.values, hub_->counters("good")->values);
  EXPECT_EQ(totals.values, good.size());
  EXPECT_EQ(totals.unparsable, hub_->counters("text")->unparsable);
  EXPECT_EQ(totals.skipped_unreachable, hub_->counters("down")->skipped_unreachable);
  EXPECT_GE(totals.skipped_unreachable, 3u);
  EXPECT_EQ(totals.failed, 0u);
  EXPECT_FALSE(totals.last) << "a total has no last value";
}

TEST_F(ConditionHubTest, StopClosesEverySubscriptionWithTheReason) {
  std::vector<std::string> reasons;
  for (int i = 0; i < 2; ++i)
    hub_->subscribe(
        spec("s"), [](const store::ConditionValue&) {},
        [&reasons](const Error& why) { reasons.push_back(why.message); });
  io_.run_for(60ms);
  hub_->stop("s", make_error(ErrorCode::NotFound, "condition 's' was deleted"));
  EXPECT_EQ(reasons, (std::vector<std::string>{"condition 's' was deleted", "condition 's' was deleted"}));
  EXPECT_EQ(hub_->subscribers("s"), 0u);
}

}  // namespace
}  // namespace steward::packages
