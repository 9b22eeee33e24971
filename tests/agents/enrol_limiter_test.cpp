#include "agents/enrol_limiter.hpp"

#include <gtest/gtest.h>

namespace steward::agents {
namespace {

TEST(EnrolLimiter, AnAddressGetsItsBurstThenWaitsForTheRefill) {
  EnrolLimiter limiter({.refill_per_minute = 10, .burst = 20});
  const double t0 = 1000;
  for (int i = 0; i < 19; ++i) {
    EXPECT_EQ(limiter.wait_seconds("10.0.0.7", t0), 0) << i;
    EXPECT_FALSE(limiter.note_refused("10.0.0.7", t0)) << i;
  }
  EXPECT_TRUE(limiter.note_refused("10.0.0.7", t0)) << "the 20th refusal empties the bucket";
  EXPECT_EQ(limiter.wait_seconds("10.0.0.7", t0), 6) << "one token per 6 s";
  EXPECT_EQ(limiter.wait_seconds("10.0.0.7", t0 + 3), 3);
  EXPECT_EQ(limiter.wait_seconds("10.0.0.8", t0), 0) << "other addresses are not affected";
  EXPECT_EQ(limiter.wait_seconds("10.0.0.7", t0 + 6), 0);
  EXPECT_TRUE(limiter.note_refused("10.0.0.7", t0 + 6));
  EXPECT_GT(limiter.wait_seconds("10.0.0.7", t0 + 6), 0);
  EXPECT_EQ(limiter.wait_seconds("10.0.0.7", t0 + 6 + 120), 0);
  for (int i = 0; i < 19; ++i) EXPECT_FALSE(limiter.note_refused("10.0.0.7", t0 + 126)) << "refilled to the burst";
}

TEST(EnrolLimiter, KeepsABoundedNumberOfAddresses) {
  EnrolLimiter limiter({.refill_per_minute = 10, .burst = 2, .max_addresses = 3});
  for (const char* address : {"a", "b", "c"}) {
    limiter.note_refused(address, 0);
    limiter.note_refused(address, 0);
  }
  EXPECT_GT(limiter.wait_seconds("a", 1), 0);
  limiter.note_refused("d", 2);  // none has refilled: the stalest goes ("b": "a" was looked at since)
  EXPECT_GT(limiter.wait_seconds("a", 2), 0);
  EXPECT_EQ(limiter.wait_seconds("b", 2), 0);
  EXPECT_GT(limiter.wait_seconds("c", 2), 0);
  limiter.note_refused("e", 100);  // by now every old bucket is full again: all of them go
  EXPECT_EQ(limiter.wait_seconds("d", 100), 0);
}

TEST(EnrolLimiter, AddressWithoutPort) {
  EXPECT_EQ(address_without_port("10.1.2.3:5000"), "10.1.2.3");
  EXPECT_EQ(address_without_port("[::1]:5000"), "::1");
  EXPECT_EQ(address_without_port("[fe80::1%eth0]:22"), "fe80::1%eth0");
  EXPECT_EQ(address_without_port("unix:/run/x"), "unix");
  EXPECT_EQ(address_without_port("::1"), "::1");
}

}  // namespace
}  // namespace steward::agents
