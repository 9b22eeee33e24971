#include "sched/fair_queue.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace steward::sched {
namespace {

using Queue = FairQueue<int>;

QueuedItem<int> item(const std::string& target, int payload, std::uint64_t runs = 0, int max_sessions = 1) {
  QueuedItem<int> out;
  out.target = target;
  out.payload = payload;
  out.runs = runs;
  out.max_sessions = max_sessions;
  return out;
}

TEST(FairQueue, OneShotOvertakesThousandRepeatingItemsOnBusyTarget) {
  Queue queue;
  for (int i = 0; i < 1000; ++i) queue.push(item("vm1", i, /*runs=*/1 + i % 7));
  auto busy = queue.pop_runnable();  // the target is now running something
  ASSERT_TRUE(busy);
  queue.push(item("vm1", -1, /*runs=*/0));
  EXPECT_FALSE(queue.pop_runnable()) << "a busy target must not run a second item";
  queue.finished("vm1");
  auto next = queue.pop_runnable();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->payload, -1);
}

TEST(FairQueue, FewestRunsFirstThenOldest) {
  Queue queue;
  queue.push(item("a", 1, 3));
  queue.push(item("a", 2, 1));
  queue.push(item("a", 3, 1));
  queue.push(item("a", 4, 2));
  std::vector<int> order;
  while (auto next = queue.pop_runnable()) {
    order.push_back(next->payload);
    queue.finished("a");
  }
  EXPECT_EQ(order, (std::vector<int>{2, 3, 4, 1}));
}

TEST(FairQueue, DeepQueuesAreServedRoundRobin) {
  Queue queue;
  const int targets = 5, depth = 200;
  // Submitted target by target, so oldest-first alone would drain t0 first.
  for (int t = 0; t < targets; ++t)
    for (int i = 0; i < depth; ++i) queue.push(item("t" + std::to_string(t), t));
  std::vector<int> order;
  while (auto next = queue.pop_runnable()) {  // one connection: pop, finish, repeat
    order.push_back(next->payload);
    queue.finished(next->target);
  }
  ASSERT_EQ(order.size(), static_cast<std::size_t>(targets * depth));
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], static_cast<int>(i % targets)) << i;
}

TEST(FairQueue, NoTargetStarvesWhileOthersKeepSubmitting) {
  Queue queue;
  queue.push(item("quiet", 99));
  for (int i = 0; i < 50; ++i) queue.push(item("noisy", i));
  std::map<std::string, int> served;
  for (int round = 0; round < 10; ++round) {
    auto next = queue.pop_runnable();
    ASSERT_TRUE(next);
    served[next->target]++;
    queue.push(item("noisy", 1000 + round));  // noisy keeps adding work
    queue.finished(next->target);
  }
  EXPECT_EQ(served["quiet"], 1);
}

TEST(FairQueue, MaxSessionsLimitsConcurrencyPerTarget) {
  Queue queue;
  for (int i = 0; i < 5; ++i) queue.push(item("wide", i, 0, /*max_sessions=*/2));
  for (int i = 0; i < 5; ++i) queue.push(item("narrow", i, 0, /*max_sessions=*/1));
  std::map<std::string, int> running;
  while (auto next = queue.pop_runnable()) running[next->target]++;
  EXPECT_EQ(running["wide"], 2);
  EXPECT_EQ(running["narrow"], 1);
  EXPECT_EQ(queue.running(), 3u);
  EXPECT_EQ(queue.waiting(), 7u);
}

TEST(FairQueue, FinishedForUnknownTargetIsHarmless) {
  Queue queue;
  queue.finished("nobody");
  EXPECT_EQ(queue.running(), 0u);
  EXPECT_FALSE(queue.pop_runnable());
}

}  // namespace
}  // namespace steward::sched
