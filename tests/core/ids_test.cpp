#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <set>

namespace steward {

TEST(Ids, JidsAreUniqueSortableVersion7Uuids) {
  const std::regex uuid7("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 10000; ++i) {
    auto jid = new_jid();
    ASSERT_TRUE(std::regex_match(jid, uuid7)) << jid;
    ASSERT_GT(jid, previous);
    previous = jid;
    seen.insert(jid);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(Ids, JidsCarryTheCurrentUnixMilliseconds) {
  using namespace std::chrono;
  auto before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  auto jid = new_jid();
  auto after = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  long long millis = std::stoll(jid.substr(0, 8) + jid.substr(9, 4), nullptr, 16);
  EXPECT_GE(millis, before);
  EXPECT_LE(millis, after + 5);  // a burst (the test above) may borrow a few milliseconds ahead
}

TEST(Ids, RandomHexHasRequestedLength) {
  auto a = random_hex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, random_hex(16));
}

}  // namespace steward
