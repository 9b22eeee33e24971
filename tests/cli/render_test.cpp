#include "cli/render.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace steward::cli {
namespace {

TEST(Sparkline, MapsZeroToOneOntoTheEightBlocks) {
  const std::vector<double> values{0.0, 1.0 / 7, 2.0 / 7, 3.0 / 7, 4.0 / 7, 5.0 / 7, 6.0 / 7, 1.0};
  EXPECT_EQ(sparkline(values), "▁▂▃▄▅▆▇█");
}

TEST(Sparkline, RoundsToTheNearestBlock) {
  const std::vector<double> values{0.5, 0.06, 0.94};
  EXPECT_EQ(sparkline(values), "▅▁█");
}

TEST(Sparkline, ClampsValuesOutsideZeroOneAndNaN) {
  const std::vector<double> values{-3.0, 2.5, std::nan("")};
  EXPECT_EQ(sparkline(values), "▁█▁");
}

TEST(Sparkline, EmptyForNoValues) { EXPECT_EQ(sparkline({}), ""); }

TEST(ByteSize, PicksTheLargestUnitBelow1024) {
  EXPECT_EQ(byte_size(0), "0 B");
  EXPECT_EQ(byte_size(1023), "1023 B");
  EXPECT_EQ(byte_size(1536), "1.5 KiB");
  EXPECT_EQ(byte_size(20u << 20), "20.0 MiB");
  EXPECT_EQ(byte_size(3ull << 30), "3.0 GiB");
}

TEST(TableText, PadsColumnsToTheirWidthAndLeavesTheLastAlone) {
  static constexpr TableColumn kColumns[] = {{"NAME", 8}, {"ROLE", 6}, {"LAST", 0}};
  const std::vector<TableRow> rows{{"ci", "admin", "-"}};
  EXPECT_EQ(table_text(kColumns, rows), "NAME    ROLE  LAST\nci      admin -\n");
}

TEST(TableText, WidensAColumnForALongCell) {
  static constexpr TableColumn kColumns[] = {{"NAME", 4}, {"ROLE", 0}};
  const std::vector<TableRow> rows{{"a-long-name", "read"}, {"b", "admin"}};
  EXPECT_EQ(table_text(kColumns, rows), "NAME        ROLE\na-long-name read\nb           admin\n");
}

TEST(TableText, HeaderAloneWithoutRows) {
  static constexpr TableColumn kColumns[] = {{"ID", 4}, {"STATE", 0}};
  EXPECT_EQ(table_text(kColumns, {}), "ID  STATE\n");
}

}  // namespace
}  // namespace steward::cli
