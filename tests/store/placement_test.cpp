#include "store/placement.hpp"

#include <gtest/gtest.h>

#include <map>

namespace steward::store {
namespace {

std::map<std::string, int> share(const std::vector<std::string>& live) {
  std::map<std::string, int> slots;
  for (std::uint32_t slot = 0; slot < kSlots; ++slot) ++slots[slot_owner(slot, live)];
  return slots;
}

TEST(Placement, SlotsAreStableAndInRange) {
  EXPECT_EQ(slot_of("web1"), slot_of(std::string("web1")));
  std::map<std::uint32_t, int> used;
  for (int i = 0; i < 4096; ++i) {
    auto slot = slot_of("host" + std::to_string(i));
    ASSERT_LT(slot, kSlots);
    ++used[slot];
  }
  EXPECT_EQ(used.size(), kSlots) << "4096 similar names reach every slot";
}

TEST(Placement, EveryServerComputesTheSameOwnerWhateverTheOrder) {
  for (std::uint32_t slot = 0; slot < kSlots; ++slot)
    EXPECT_EQ(slot_owner(slot, {"a", "b", "c"}), slot_owner(slot, {"c", "a", "b"}));
  EXPECT_EQ(slot_owner(7, {}), "");
  EXPECT_EQ(slot_owner(7, {"solo"}), "solo");
}

TEST(Placement, SlotsSpreadEvenlyOverServersWithSimilarNames) {
  for (auto live : {std::vector<std::string>{"a", "b"}, std::vector<std::string>{"a", "b", "c"},
                    std::vector<std::string>{"server-1", "server-2", "server-3", "server-4"}}) {
    auto slots = share(live);
    ASSERT_EQ(slots.size(), live.size());
    const double fair = static_cast<double>(kSlots) / static_cast<double>(live.size());
    for (const auto& [server, count] : slots) {
      EXPECT_GT(count, fair * 0.6) << server;
      EXPECT_LT(count, fair * 1.4) << server;
    }
  }
}

TEST(Placement, AServerLeavingMovesOnlyItsOwnSlots) {
  for (std::uint32_t slot = 0; slot < kSlots; ++slot) {
    const auto before = slot_owner(slot, {"a", "b", "c"});
    const auto after = slot_owner(slot, {"a", "c"});
    if (before != "b") {
      EXPECT_EQ(after, before) << slot;
    }
  }
}

}  // namespace
}  // namespace steward::store
