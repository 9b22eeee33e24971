#include "core/cancel.hpp"

#include <gtest/gtest.h>

#include <memory>

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
  auto captured = std::make_shared<int>(0);
  std::weak_ptr<int> watch = captured;
  {
    auto token = make_cancel_token();
    reg = token->on_cancel([captured] { ++*captured; });
  }
  captured.reset();
  // The token took its callback along: the registration keeps nothing alive.
  EXPECT_TRUE(watch.expired());
  reg.reset();  // must not touch the freed token (the sanitizer build reports it if it does)
  reg.reset();

  // A registration reset after its token died leaves a new token working.
  auto next = make_cancel_token();
  int calls = 0;
  reg = next->on_cancel([&] { ++calls; });
  next->cancel("again");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(next->reason(), "again");
}

}  // namespace steward
