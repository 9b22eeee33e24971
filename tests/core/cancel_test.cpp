#include "core/cancel.hpp"

#include <gtest/gtest.h>

namespace steward {

TEST(Cancel, RunsCallbacksOnceWithFirstReason) {
  auto token = make_cancel_token();
  int calls = 0;
  auto reg = token->on_cancel([&] { ++calls; });
  token->cancel("first");
  token->cancel("second");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(token->reason(), "first");
}

TEST(Cancel, DroppedRegistrationIsNotCalled) {
  auto token = make_cancel_token();
  int calls = 0;
  {
    auto reg = token->on_cancel([&] { ++calls; });
  }
  token->cancel("x");
  EXPECT_EQ(calls, 0);
}

TEST(Cancel, RegisteringAfterCancelRunsAtOnce) {
  auto token = make_cancel_token();
  token->cancel("done");
  int calls = 0;
  auto reg = token->on_cancel([&] { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(Cancel, RegistrationMayOutliveToken) {
  CancelState::Registration reg;
  {
    auto token = make_cancel_token();
    reg = token->on_cancel([] {});
  }
  reg.reset();  // must not touch the freed token
  SUCCEED();
}

}  // namespace steward
