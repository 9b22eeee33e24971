#include "api/http/job_replies.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include <string>
#include <vector>

#include "api/http/async_slots.hpp"

namespace steward::api::http {
namespace {

JsonText text_of(std::size_t bytes, char fill = 'x') { return std::make_shared<const std::string>(bytes, fill); }

TEST(JobTextCache, FindsWhatWasPutOnlyForTheSameVersion) {
  JobTextCache cache(1 << 20);
  cache.put("list a", text_of(10), "id1\nid2\n");
  ASSERT_NE(cache.find("list a", "id1\nid2\n"), nullptr);
  EXPECT_EQ(*cache.find("list a", "id1\nid2\n"), std::string(10, 'x'));
  EXPECT_EQ(cache.find("list a", "id1\n"), nullptr) << "other ids, other listing";
  EXPECT_EQ(cache.find("list b", "id1\nid2\n"), nullptr);
  cache.put("list a", text_of(5, 'y'), "id1\n");
  EXPECT_EQ(cache.find("list a", "id1\nid2\n"), nullptr) << "a put replaces the key's text";
  EXPECT_EQ(*cache.find("list a", "id1\n"), "yyyyy");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(JobTextCache, StaysWithinItsBudgetDroppingTheLeastRecentlyUsed) {
  JobTextCache cache(4000);
  for (int i = 0; i < 3; ++i) cache.put("job " + std::to_string(i), text_of(900));
  ASSERT_NE(cache.find("job 0"), nullptr);  // now the most recently used
  cache.put("job 3", text_of(900));
  cache.put("job 4", text_of(900));
  EXPECT_LE(cache.bytes(), 4000u);
  EXPECT_EQ(cache.find("job 1"), nullptr) << "the least recently used goes first";
  EXPECT_NE(cache.find("job 0"), nullptr);
  EXPECT_NE(cache.find("job 4"), nullptr);
}

TEST(JobTextCache, KeepsNoTextOverAQuarterOfItsBudget) {
  JobTextCache cache(4000);
  cache.put("job small", text_of(100));
  cache.put("job big", text_of(1001));
  EXPECT_EQ(cache.find("job big"), nullptr);
  EXPECT_NE(cache.find("job small"), nullptr) << "a text too big to keep evicts nothing";
  EXPECT_LT(cache.bytes(), 200u);
}

// Each holder keeps its slot until the loop has run `turns` more times.
boost::asio::awaitable<void> hold(AsyncSlots& slots, int id, int turns, std::vector<int>& order, std::size_t& holders,
                                  std::size_t& most) {
  auto slot = co_await slots.acquire();
  order.push_back(id);
  most = std::max(most, ++holders);
  for (int i = 0; i < turns; ++i) {
    auto executor = co_await boost::asio::this_coro::executor;
    co_await boost::asio::post(executor, boost::asio::use_awaitable);
  }
  --holders;
}

TEST(AsyncSlots, AtMostNHoldersAndTheOthersInArrivalOrder) {
  boost::asio::io_context io;
  AsyncSlots slots(2);
  std::vector<int> order;
  std::size_t holders = 0, most = 0;
  for (int id = 0; id < 6; ++id)
    boost::asio::co_spawn(io, hold(slots, id, 3 + id % 2, order, holders, most), boost::asio::detached);
  io.run();
  EXPECT_EQ(most, 2u);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(slots.free(), 2u) << "every slot came back";
  EXPECT_EQ(slots.waiting(), 0u);
}

}  // namespace
}  // namespace steward::api::http
