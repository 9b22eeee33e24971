#include "transport/ssh/sftp_wire.hpp"

#include <gtest/gtest.h>

namespace steward::transport::ssh {
namespace {

std::string u32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string packet(std::uint8_t type, const std::string& rest) { return u32(1 + rest.size()) + char(type) + rest; }

TEST(SftpWire, SplitsWholePacketsAndLeavesAPartialOne) {
  std::string stream = packet(sftp_wire::kVersion, u32(3)) + packet(sftp_wire::kHandle, u32(7) + u32(2) + "h1");
  auto partial = packet(sftp_wire::kData, u32(8) + u32(5) + "hello");
  auto packets = split_packets(stream + partial.substr(0, 6));
  ASSERT_TRUE(packets.version);
  ASSERT_EQ(packets.replies.size(), 1u);
  EXPECT_EQ(packets.replies[0].first, 7u);
  EXPECT_EQ(SftpReader(packets.replies[0].second.body).string(), "h1");
  EXPECT_EQ(packets.used, stream.size());
  EXPECT_FALSE(packets.corrupt);
}

// A 1-byte VERSION packet threw std::out_of_range inside libssh's callback (found by fuzz_sftp).
TEST(SftpWire, APacketTooShortForItsHeaderMarksTheStreamCorrupt) {
  for (std::uint8_t type : {sftp_wire::kVersion, sftp_wire::kStatus}) {
    auto packets = split_packets(u32(1) + char(type) + u32(0));
    EXPECT_TRUE(packets.corrupt);
    EXPECT_FALSE(packets.version);
    EXPECT_TRUE(packets.replies.empty());
  }
}

TEST(SftpWire, AttributesAndStatusOverrunsAreRefused) {
  EXPECT_FALSE(parse_attributes(u32(sftp_wire::kAttrSize) + u32(0)));  // size needs 8 bytes
  auto attributes = parse_attributes(u32(sftp_wire::kAttrSize | sftp_wire::kAttrPermissions) + u32(0) + u32(42) +
                                     u32(0644));
  ASSERT_TRUE(attributes);
  EXPECT_EQ(attributes->size, 42u);
  EXPECT_EQ(attributes->permissions, 0644u);
  EXPECT_FALSE(parse_status(u32(2) + u32(100) + "short").ok);
}

}  // namespace
}  // namespace steward::transport::ssh
