#include "core/strings.hpp"

#include <gtest/gtest.h>

namespace steward {

TEST(Strings, SplitDropsEmptyPiecesAndSpaces) {
  EXPECT_EQ(split_nonempty(" web1, ,web2 ,", ','), (std::vector<std::string>{"web1", "web2"}));
  EXPECT_EQ(split_nonempty("/jobs//42/", '/'), (std::vector<std::string>{"jobs", "42"}));
  EXPECT_TRUE(split_nonempty("", ',').empty());
  EXPECT_TRUE(split_nonempty(",,,", ',').empty());
}

}  // namespace steward
