#include "sched/scheduler.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <vector>

#include "fakes/fake_clock.hpp"

namespace steward::sched {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Work that stays running until the test releases it.
struct Gate {
  explicit Gate(asio::io_context& io) : timer(io, asio::steady_timer::time_point::max()) {}
  asio::steady_timer timer;
  void open() { timer.cancel(); }
};

TEST(Scheduler, RespectsMaxConnectionsAndMeasuresQueueWait) {
  asio::io_context io;
  testing::FakeClock clock;
  Scheduler scheduler(io.get_executor(), clock, /*max_connections=*/2);
  std::vector<std::unique_ptr<Gate>> gates;
  int concurrent = 0, peak = 0, done = 0;
  std::vector<std::chrono::nanoseconds> waits;
  for (int i = 0; i < 6; ++i) {
    gates.push_back(std::make_unique<Gate>(io));
    Gate* gate = gates.back().get();
    scheduler.submit("t" + std::to_string(i), 1, 0, [&, gate](std::chrono::nanoseconds wait) -> asio::awaitable<void> {
      waits.push_back(wait);
      peak = std::max(peak, ++concurrent);
      co_await gate->timer.async_wait(asio::as_tuple(asio::use_awaitable));
      --concurrent;
      ++done;
    });
  }
  io.poll();
  EXPECT_EQ(scheduler.running(), 2u);
  EXPECT_EQ(scheduler.waiting(), 4u);
  clock.advance(3s);
  for (auto& gate : gates) {
    gate->open();
    io.poll();
  }
  EXPECT_EQ(done, 6);
  EXPECT_EQ(peak, 2);
  ASSERT_EQ(waits.size(), 6u);
  EXPECT_EQ(waits[0], 0ns);
  EXPECT_EQ(waits[5], 3s);
  EXPECT_EQ(scheduler.wait_stats(WorkKind::Jobs).started, 6u);
  EXPECT_DOUBLE_EQ(scheduler.wait_stats(WorkKind::Jobs).wait_seconds_max, 3.0);
  EXPECT_EQ(scheduler.wait_stats(WorkKind::Jobs).completed, 6u);
  EXPECT_EQ(scheduler.wait_stats(WorkKind::Conditions).started, 0u);
}

TEST(Scheduler, CountsDepthAndWaitsPerKindOfWork) {
  asio::io_context io;
  testing::FakeClock clock;
  Scheduler scheduler(io.get_executor(), clock, /*max_connections=*/1);
  Gate gate(io);
  auto held = [&](std::chrono::nanoseconds) -> asio::awaitable<void> {
    co_await gate.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  };
  auto quick = [](std::chrono::nanoseconds) -> asio::awaitable<void> { co_return; };
  scheduler.submit("a", 1, 0, held, WorkKind::Jobs);
  scheduler.submit("b", 1, 0, quick, WorkKind::Jobs);
  scheduler.submit("c", 1, 0, quick, WorkKind::Conditions);
  scheduler.submit("d", 1, 0, quick, WorkKind::Conditions);
  io.poll();
  EXPECT_EQ(scheduler.wait_stats(WorkKind::Jobs).waiting, 1u);
  EXPECT_EQ(scheduler.wait_stats(WorkKind::Conditions).waiting, 2u);
  EXPECT_EQ(scheduler.waiting(), 3u);
  clock.advance(2s);
  gate.open();
  io.poll();
  const auto& jobs = scheduler.wait_stats(WorkKind::Jobs);
  const auto& conditions = scheduler.wait_stats(WorkKind::Conditions);
  EXPECT_EQ(jobs.waiting, 0u);
  EXPECT_EQ(conditions.waiting, 0u);
  EXPECT_EQ(jobs.started, 2u);
  EXPECT_EQ(conditions.started, 2u);
  EXPECT_EQ(conditions.completed, 2u);
  EXPECT_DOUBLE_EQ(conditions.wait_seconds_sum, 4.0);  // both waited behind the held job
  EXPECT_DOUBLE_EQ(conditions.wait_seconds_max, 2.0);
  EXPECT_EQ(conditions.counts[0], 0u);  // not within the first bucket (1 ms)
  EXPECT_STREQ(work_kind_name(WorkKind::Jobs), "jobs");
  EXPECT_STREQ(work_kind_name(WorkKind::Conditions), "conditions");
}

TEST(Scheduler, SerializesWorkOnOneTarget) {
  asio::io_context io;
  testing::FakeClock clock;
  Scheduler scheduler(io.get_executor(), clock, 8);
  int concurrent = 0, peak = 0, done = 0;
  for (int i = 0; i < 5; ++i) {
    scheduler.submit("one", 1, 0, [&](std::chrono::nanoseconds) -> asio::awaitable<void> {
      peak = std::max(peak, ++concurrent);
      asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
      co_await t.async_wait(asio::use_awaitable);
      --concurrent;
      ++done;
    });
  }
  io.run();
  EXPECT_EQ(done, 5);
  EXPECT_EQ(peak, 1);
}

TEST(Scheduler, ThrowingWorkReleasesItsSlot) {
  asio::io_context io;
  testing::FakeClock clock;
  Scheduler scheduler(io.get_executor(), clock, 1);
  bool second_ran = false;
  scheduler.submit("x", 1, 0, [](std::chrono::nanoseconds) -> asio::awaitable<void> {
    throw std::runtime_error("boom");
    co_return;
  });
  scheduler.submit("x", 1, 0, [&](std::chrono::nanoseconds) -> asio::awaitable<void> {
    second_ran = true;
    co_return;
  });
  io.run();
  EXPECT_TRUE(second_ran);
  EXPECT_EQ(scheduler.running(), 0u);
}

}  // namespace
}  // namespace steward::sched
