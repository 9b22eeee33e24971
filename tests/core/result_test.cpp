#include "core/result.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace steward {

TEST(Result, HoldsValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = make_error(ErrorCode::NotFound, "no such host: x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::NotFound);
  EXPECT_EQ(bad.error().message, "no such host: x");
}

TEST(Result, MovesOutOnlyTypes) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(3);
  auto p = std::move(r).value();
  EXPECT_EQ(*p, 3);
}

TEST(Result, VoidCarriesErrors) {
  Status fine;
  EXPECT_TRUE(fine.ok());
  Status failed = make_error(ErrorCode::Timeout, "slow");
  EXPECT_FALSE(failed.ok());
  EXPECT_STREQ(to_string(failed.error().code), "timeout");
}

}  // namespace steward
