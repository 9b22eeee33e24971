#include "core/clock.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <string>
#include <vector>

#include "core/manual_clock.hpp"
#include "core/timer.hpp"

namespace steward {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Records "<name>:<true|false>@<seconds on the clock>" when its wait ends.
asio::awaitable<void> wait_and_record(const Clock& clock, Timer& timer, std::chrono::seconds after,
                                      std::string name, std::vector<std::string>& log) {
  const SteadyTime deadline = clock.now() + after;
  bool came = co_await timer.wait_until(deadline);
  auto at = std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
  log.push_back(name + ":" + (came ? "true" : "false") + "@" + std::to_string(at));
}

TEST(ManualClock, TimerFiresOnlyAfterAdvanceReachesItsDeadline) {
  asio::io_context io;
  ManualClock clock;
  auto timer = clock.make_timer();
  std::vector<std::string> log;
  asio::co_spawn(io, wait_and_record(clock, *timer, 10s, "a", log), asio::detached);
  io.poll();
  EXPECT_EQ(clock.waiting(), 1u);
  clock.advance(9s);
  io.poll();
  EXPECT_TRUE(log.empty());
  clock.advance(1s);
  io.poll();
  EXPECT_EQ(log, std::vector<std::string>{"a:true@10"});
  EXPECT_EQ(clock.waiting(), 0u);
}

TEST(ManualClock, WakesDueWaitsInDeadlineOrder) {
  asio::io_context io;
  ManualClock clock;
  std::vector<std::unique_ptr<Timer>> timers;
  std::vector<std::string> log;
  for (auto [name, after] : {std::pair{"late", 30s}, std::pair{"early", 10s}, std::pair{"middle", 20s},
                             std::pair{"never", 60s}}) {
    timers.push_back(clock.make_timer());
    asio::co_spawn(io, wait_and_record(clock, *timers.back(), after, name, log), asio::detached);
  }
  io.poll();
  clock.advance(45s);
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"early:true@45", "middle:true@45", "late:true@45"}));
  EXPECT_EQ(clock.waiting(), 1u);
  timers.back()->cancel();
  io.poll();
  EXPECT_EQ(log.back(), "never:false@45");
}

TEST(ManualClock, AdvanceWithRunReadyStopsAtEachDeadline) {
  asio::io_context io;
  ManualClock clock;
  auto timer = clock.make_timer();
  std::vector<SteadyTime> ticks;
  // A periodic task: each wait starts when the previous one woke.
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i) {
      const SteadyTime deadline = clock.now() + 10s;
      if (!co_await timer->wait_until(deadline)) co_return;
      ticks.push_back(clock.now());
    }
  }, asio::detached);
  io.poll();
  clock.advance(35s, [&] { io.poll(); });
  ASSERT_EQ(ticks.size(), 3u);
  EXPECT_EQ(ticks[0], SteadyTime{} + 10s);
  EXPECT_EQ(ticks[2], SteadyTime{} + 30s);
  EXPECT_EQ(clock.now(), SteadyTime{} + 35s);
  timer->cancel();
  io.poll();
  EXPECT_EQ(clock.waiting(), 0u);
}

TEST(ManualClock, PastDeadlineCompletesAtOnceAndCancelEndsAWait) {
  asio::io_context io;
  ManualClock clock;
  clock.advance(5s);
  auto timer = clock.make_timer();
  std::vector<std::string> log;
  asio::co_spawn(io, wait_and_record(clock, *timer, 0s, "now", log), asio::detached);
  io.poll();
  EXPECT_EQ(log, std::vector<std::string>{"now:true@5"});
  io.restart();  // the loop ran out of work
  asio::co_spawn(io, wait_and_record(clock, *timer, 10s, "cancelled", log), asio::detached);
  io.poll();
  timer->cancel();
  io.poll();
  EXPECT_EQ(log.back(), "cancelled:false@5");
  clock.advance(20s);
  io.poll();
  EXPECT_EQ(log.size(), 2u);  // a cancelled wait is not woken again
}

TEST(ManualClock, CancellationSlotEndsAWait) {
  asio::io_context io;
  ManualClock clock;
  auto timer = clock.make_timer();
  std::vector<std::string> log;
  asio::cancellation_signal stop;
  asio::co_spawn(io, wait_and_record(clock, *timer, 10s, "slot", log),
                 asio::bind_cancellation_slot(stop.slot(), asio::detached));
  io.poll();
  stop.emit(asio::cancellation_type::terminal);
  io.poll();
  EXPECT_EQ(log, std::vector<std::string>{"slot:false@0"});
  EXPECT_EQ(clock.waiting(), 0u);
}

TEST(ManualClock, ADestroyedWaitUnregisters) {
  ManualClock clock;
  {
    auto timer = clock.make_timer();
    std::vector<std::string> log;
    asio::io_context io;
    asio::co_spawn(io, wait_and_record(clock, *timer, 10s, "abandoned", log), asio::detached);
    io.poll();
    EXPECT_EQ(clock.waiting(), 1u);
  }  // the loop destroys the suspended coroutine
  EXPECT_EQ(clock.waiting(), 0u);
  clock.advance(20s);
}

TEST(SystemClock, TimerWaitsOnTheSteadyClock) {
  asio::io_context io;
  SystemClock clock;
  std::vector<bool> results;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    bool came = co_await sleep_for(clock, 1ms);
    results.push_back(came);
    auto timer = clock.make_timer();
    asio::post(io, [&] { timer->cancel(); });  // runs once the wait below has begun
    came = co_await timer->wait_until(SteadyTime::max());
    results.push_back(came);
  }, asio::detached);
  io.run();
  EXPECT_EQ(results, (std::vector<bool>{true, false}));
}

}  // namespace
}  // namespace steward
