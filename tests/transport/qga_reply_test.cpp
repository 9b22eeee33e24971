#include "transport/qga/qga_reply.hpp"

#include <gtest/gtest.h>

namespace steward::transport::qga {
namespace {

TEST(QgaReply, LinesArriveWholeAcrossReadsAndAfterTheDelimiter) {
  std::string buffer = "{\"error\": {}}\n\xff{\"ret";
  LineScan scan{false, 0};  // waiting for the reply to a sync: skip to the delimiter
  EXPECT_FALSE(take_line(buffer, scan));
  EXPECT_TRUE(scan.delimited);
  buffer += "urn\": 7}\n{\"return\": {}}\n";
  EXPECT_EQ(take_line(buffer, scan), "{\"return\": 7}");
  EXPECT_EQ(take_line(buffer, scan), "{\"return\": {}}");
  EXPECT_FALSE(take_line(buffer, scan));
  EXPECT_TRUE(buffer.empty());
}

TEST(QgaReply, ReturnErrorOrNotAReply) {
  auto value = parse_reply("{\"return\": {\"pid\": 42, \"exited\": true}}");
  ASSERT_TRUE(value && value->value);
  EXPECT_EQ(integer_field(*value->value, "pid"), 42);
  EXPECT_TRUE(true_field(*value->value, "exited"));
  auto error = parse_reply("{\"error\": {\"class\": \"GenericError\", \"desc\": \"no such command\"}}");
  ASSERT_TRUE(error);
  EXPECT_FALSE(error->value);
  EXPECT_EQ(error->error, "no such command");
  for (const char* line : {"", "[1]", "{\"error\": 3}", "{\"other\": 1}", "{\"return\""}) EXPECT_FALSE(parse_reply(line));
}

}  // namespace
}  // namespace steward::transport::qga
