#include "core/strings.hpp"

#include <gtest/gtest.h>

namespace steward {

TEST(Strings, SplitDropsEmptyPiecesAndSpaces) {
  EXPECT_EQ(split_nonempty(" web1, ,web2 ,", ','), (std::vector<std::string>{"web1", "web2"}));
  EXPECT_EQ(split_nonempty("/jobs//42/", '/'), (std::vector<std::string>{"jobs", "42"}));
  EXPECT_TRUE(split_nonempty("", ',').empty());
  EXPECT_TRUE(split_nonempty(",,,", ',').empty());
}

TEST(Strings, ParseFlagReadsExedSpellingsInAnyCase) {
  for (const char* yes : {"1", "true", "True", "TRUE", "yes", "Yes", "YES"}) EXPECT_EQ(parse_flag(yes), true) << yes;
  for (const char* no : {"", "0", "false", "False", "no", "No", "NO"}) EXPECT_EQ(parse_flag(no), false) << no;
  for (const char* other : {"2", "on", "off", "y", "n", "truee", " true", "-1"})
    EXPECT_EQ(parse_flag(other), std::nullopt) << other;
}

}  // namespace steward
