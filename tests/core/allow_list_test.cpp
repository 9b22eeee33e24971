#include "core/allow_list.hpp"

#include <gtest/gtest.h>

namespace steward {

TEST(AllowList, MatchesIpv4Networks) {
  auto list = AllowList::parse("10.0.0.0/8, 192.168.1.7,172.16.0.0/12");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_TRUE(list->allows("10.200.3.4"));
  EXPECT_TRUE(list->allows("192.168.1.7"));
  EXPECT_FALSE(list->allows("192.168.1.8"));
  EXPECT_TRUE(list->allows("172.31.255.255"));
  EXPECT_FALSE(list->allows("172.32.0.1"));
  EXPECT_FALSE(list->allows("11.0.0.1"));
  EXPECT_TRUE(list->allows("::ffff:10.1.2.3"));  // IPv4-mapped, as dual-stack sockets report it
  EXPECT_FALSE(list->allows("not an address"));
}

TEST(AllowList, MatchesIpv6NetworksAndGrpcPeers) {
  auto list = AllowList::parse("::1,fd00::/8,127.0.0.0/8");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_TRUE(list->allows_grpc_peer("ipv6:[::1]:40000"));
  EXPECT_TRUE(list->allows_grpc_peer("ipv6:[fd12:3456::1]:40000"));
  EXPECT_FALSE(list->allows_grpc_peer("ipv6:[fe80::1]:40000"));
  EXPECT_TRUE(list->allows_grpc_peer("ipv4:127.0.0.1:5000"));
  EXPECT_FALSE(list->allows_grpc_peer("ipv4:128.0.0.1:5000"));
  EXPECT_FALSE(list->allows_grpc_peer("unix:/tmp/socket"));
  // gRPC 1.48 and later percent-encode the brackets.
  EXPECT_TRUE(list->allows_grpc_peer("ipv6:%5B::1%5D:40000"));
  EXPECT_TRUE(list->allows_grpc_peer("ipv6:%5Bfd12::1%25eth0%5D:40000"));
  EXPECT_FALSE(list->allows_grpc_peer("ipv6:%5Bfe80::1%5D:40000"));
}

TEST(AllowList, Ipv4MappedNetworksAreTheirIpv4Networks) {
  auto list = AllowList::parse("::ffff:10.0.0.0/104");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_TRUE(list->allows("10.1.2.3"));
  EXPECT_FALSE(list->allows("11.1.2.3"));
  EXPECT_FALSE(AllowList::parse("::ffff:10.0.0.0/95").ok());
}

TEST(AllowList, ZeroPrefixAllowsEveryAddressOfItsFamily) {
  auto list = AllowList::parse("0.0.0.0/0");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->allows("203.0.113.9"));
  EXPECT_FALSE(list->allows("2001:db8::1"));
}

TEST(AllowList, EmptyAllowsNobody) {
  auto list = AllowList::parse("");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  EXPECT_FALSE(list->allows("127.0.0.1"));
}

TEST(AllowList, RefusesMalformedEntriesNamingThem) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "host.example", "::1/129", "10.0.0.0/-1"}) {
    auto list = AllowList::parse(bad);
    ASSERT_FALSE(list.ok()) << bad;
    EXPECT_NE(list.error().message.find(bad), std::string::npos) << list.error().message;
  }
}

}  // namespace steward

TEST(GrpcPeerAddress, DropsTheSchemeAndPercentEncoding) {
  EXPECT_EQ(steward::grpc_peer_address("ipv4:10.160.1.2:56882"), "10.160.1.2:56882");
  EXPECT_EQ(steward::grpc_peer_address("ipv6:%5B::1%5D:40000"), "[::1]:40000");
  EXPECT_EQ(steward::grpc_peer_address("unix:/run/x.sock"), "unix:/run/x.sock");
}
