#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace steward {

TEST(Ids, JidsAreUniqueSortableDigits) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 10000; ++i) {
    auto jid = new_jid();
    ASSERT_EQ(jid.size(), 20u) << jid;
    ASSERT_EQ(jid.find_first_not_of("0123456789"), std::string::npos) << jid;
    ASSERT_GT(jid, previous);
    previous = jid;
    seen.insert(jid);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(Ids, RandomHexHasRequestedLength) {
  auto a = random_hex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, random_hex(16));
}

}  // namespace steward
