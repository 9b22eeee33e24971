#include "agents/join_tokens.hpp"

#include <gtest/gtest.h>

namespace steward::agents {
namespace {

using std::chrono::seconds;

TEST(ParseTtl, TakesSecondsAndUnits) {
  EXPECT_EQ(parse_ttl("24h"), seconds(86400));
  EXPECT_EQ(parse_ttl("90m"), seconds(5400));
  EXPECT_EQ(parse_ttl("3600s"), seconds(3600));
  EXPECT_EQ(parse_ttl("7d"), seconds(7 * 86400));
  EXPECT_EQ(parse_ttl("120"), seconds(120));
  for (const char* bad : {"", "h", "0", "-5", "1.5h", "24 h", "1w", "366d", "99999999999999999999"})
    EXPECT_FALSE(parse_ttl(bad)) << bad;
}

TEST(JoinTokens, StoresOnlyAHashAndRedeemsByValue) {
  JoinTokens tokens;
  std::string token;
  auto entry = tokens.create("ci", seconds(60), false, 1000, token);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->hash.size(), 64u);
  EXPECT_EQ(entry->hash.find(token), std::string::npos);
  EXPECT_NE(entry->hash, token);
  EXPECT_DOUBLE_EQ(entry->expires_at, 1060);
  EXPECT_EQ(tokens.redeem(token, 1059)->name, "ci");
  EXPECT_FALSE(tokens.redeem(token, 1060));
  EXPECT_FALSE(tokens.redeem(token.substr(1), 1000));
}

TEST(JoinTokens, ExpiredEntriesAreTaken) {
  JoinTokens tokens;
  std::string token;
  ASSERT_TRUE(tokens.create("a", seconds(10), false, 0, token));
  ASSERT_TRUE(tokens.create("b", seconds(100), false, 0, token));
  EXPECT_EQ(tokens.take_expired(50), std::vector<std::string>{"a"});
  EXPECT_TRUE(tokens.take_expired(50).empty());
  EXPECT_TRUE(tokens.redeem(token, 60));
}

}  // namespace
}  // namespace steward::agents
