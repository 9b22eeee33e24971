#include "core/model.hpp"

#include <gtest/gtest.h>

namespace steward {

TEST(OutputTail, KeepsTheLastBytesAndRecordsTheWholeSize) {
  OpResult result;
  result.stdout_data = "0123456789";
  result.stderr_data = "err";
  keep_output_tail(result, 4);
  EXPECT_EQ(result.stdout_data, "6789");
  EXPECT_EQ(result.stdout_size, 10u);
  EXPECT_EQ(result.stderr_data, "err");
  EXPECT_FALSE(result.stderr_size.has_value());
}

TEST(OutputTail, StartsOnACharacterBoundary) {
  OpResult result;
  result.stdout_data = "a\xC3\xA9\xE2\x82\xAC";  // a, é, €
  keep_output_tail(result, 4);                   // would start inside é
  EXPECT_EQ(result.stdout_data, "\xE2\x82\xAC");
  EXPECT_EQ(result.stdout_size, 6u);
}

TEST(OutputTail, KeepsAnEarlierWholeSizeWhenCutAgain) {
  OpResult result;
  result.stdout_data = "56789";
  result.stdout_size = 10;  // a store read already cut it
  keep_output_tail(result, 100);
  EXPECT_EQ(result.stdout_data, "56789");
  EXPECT_EQ(result.stdout_size, 10u);
  keep_output_tail(result, 0);
  EXPECT_TRUE(result.stdout_data.empty());
  EXPECT_EQ(result.stdout_size, 10u);
}

}  // namespace steward
