#include "actions/router.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace steward::actions {
namespace {

using namespace std::chrono_literals;

// A driver whose calls take `delay`, fail when asked to, and count how many ran at once.
class SlowDriver final : public Driver {
 public:
  SlowDriver(std::string service, int concurrency, std::chrono::milliseconds delay) : delay_(delay) {
    description_.service = std::move(service);
    description_.concurrency = concurrency;
    description_.actions = {{"work", "waits, then echoes its args", {"what"}, {"fail"}}};
  }
  const DriverDescription& description() const override { return description_; }
  Status validate(const ActionCall& call) const override { return check_documented(description_, call); }

  boost::asio::awaitable<Result<boost::json::value>> execute(ActionCall call, CancelToken) override {
    most_at_once = std::max(most_at_once, ++running);
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay_);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    --running;
    if (call.options.contains("fail")) co_return make_error(ErrorCode::Internal, "asked to fail");
    co_return boost::json::value(call.args);
  }

  int running = 0;
  int most_at_once = 0;

 private:
  DriverDescription description_;
  std::chrono::milliseconds delay_;
};

class RouterTest : public ::testing::Test {
 protected:
  SlowDriver* add(std::string service, int concurrency, std::chrono::milliseconds delay = 50ms) {
    auto driver = std::make_unique<SlowDriver>(std::move(service), concurrency, delay);
    auto* raw = driver.get();
    EXPECT_TRUE(router_.add(std::move(driver)).ok());
    return raw;
  }
  ActionState state_of(const std::string& id) { return router_.get(id).value().state; }

  boost::asio::io_context io_;
  ActionRouter router_{io_.get_executor()};
};

TEST_F(RouterTest, AcceptsBeforeTheActionCompletesAndKeepsTheResult) {
  add("slow", 1);
  auto id = router_.submit("slow:work", {"a"}, {});
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(state_of(*id), ActionState::Running);  // accepted, not finished
  io_.run_for(200ms);
  auto record = router_.get(*id);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->state, ActionState::Succeeded);
  EXPECT_EQ(record->result, boost::json::value(boost::json::array{"a"}));
  EXPECT_GE(record->finished, record->started);
  EXPECT_EQ(to_json(*record).at("name").as_string(), "slow:work");
}

TEST_F(RouterTest, RoutesUnicastToTheOwningDriver) {
  auto* one = add("one", 4);
  auto* two = add("two", 4);
  ASSERT_TRUE(router_.submit("two:work", {}, {}).ok());
  io_.run_for(10ms);
  EXPECT_EQ(one->most_at_once, 0);
  EXPECT_EQ(two->most_at_once, 1);
}

TEST_F(RouterTest, ADriverRunsNoMoreCallsThanItsConcurrency) {
  auto* serial = add("serial", 1);
  auto* wide = add("wide", 3);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(*router_.submit("serial:work", {}, {}));
    ids.push_back(*router_.submit("wide:work", {}, {}));
  }
  EXPECT_EQ(state_of(ids[2]), ActionState::Pending);  // the second serial call waits
  io_.run_for(500ms);
  EXPECT_EQ(serial->most_at_once, 1);
  EXPECT_EQ(wide->most_at_once, 3);
  for (const auto& id : ids) EXPECT_EQ(state_of(id), ActionState::Succeeded) << id;
}

TEST_F(RouterTest, FailuresAreRecordedWithTheDriversMessage) {
  add("slow", 1);
  auto id = router_.submit("slow:work", {}, {{"fail", true}});
  io_.run_for(200ms);
  auto record = router_.get(*id);
  EXPECT_EQ(record->state, ActionState::Failed);
  EXPECT_EQ(record->error, "asked to fail");
}

TEST_F(RouterTest, BadCallsAreRefusedNamingWhatIsKnown) {
  add("nova", 1);
  add("steward", 1);
  auto unknown_service = router_.submit("neutron:work", {}, {});
  ASSERT_FALSE(unknown_service.ok());
  EXPECT_EQ(unknown_service.error().code, ErrorCode::NotFound);
  EXPECT_NE(unknown_service.error().message.find("known: nova, steward"), std::string::npos);
  auto unknown_action = router_.submit("nova:disconnectNetwork", {}, {});
  EXPECT_EQ(unknown_action.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(unknown_action.error().message.find("known: work"), std::string::npos);
  EXPECT_EQ(router_.submit("nova:work", {"a", "b"}, {}).error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(router_.submit("nova:work", {}, {{"colour", 1}}).error().message.find("no option 'colour'"),
            std::string::npos);
  EXPECT_EQ(router_.submit("novawork", {}, {}).error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(router_.get("no-such-id").error().code, ErrorCode::NotFound);
  EXPECT_EQ(router_.add(std::make_unique<SlowDriver>("nova", 1, 1ms)).error().code, ErrorCode::Conflict);
}

TEST_F(RouterTest, ServiceRoutesAcceptTheirOwnPrefixOnly) {
  add("nova", 1);
  add("other", 1);
  EXPECT_TRUE(router_.submit_to("nova", "nova:work", {}, {}).ok());
  EXPECT_TRUE(router_.submit_to("nova", "work", {}, {}).ok());
  EXPECT_EQ(router_.submit_to("nova", "other:work", {}, {}).error().code, ErrorCode::InvalidArgument);
  auto services = router_.services();
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services[0].at("service").as_string(), "nova");
  EXPECT_EQ(services[0].at("actions").as_array()[0].at("args").as_array()[0].as_string(), "what");
}

}  // namespace
}  // namespace steward::actions
