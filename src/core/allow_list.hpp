#pragma once
// Client addresses trusted without a token (--http-allow, --grpc-allow): the
// real Ranger deployer and EXEd clients send none.
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace steward {

class AllowList {
 public:
  // "CIDR[,CIDR...]": IPv4 or IPv6 networks ("10.0.0.0/8", "::1/128"); a bare
  // address is a network of one. InvalidArgument naming the bad entry.
  static Result<AllowList> parse(std::string_view text);

  bool empty() const { return networks_.empty(); }
  // An address as text ("127.0.0.1", "::1", "::ffff:10.1.2.3"); IPv4-mapped
  // IPv6 addresses match IPv4 networks. Anything unparsable is not allowed.
  bool allows(std::string_view address) const;
  // A gRPC peer string: "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000"; unix
  // sockets and anything else are not allowed.
  bool allows_grpc_peer(std::string_view peer) const;

 private:
  struct Network {
    std::vector<unsigned char> bytes;  // 4 or 16
    unsigned prefix = 0;
  };
  std::vector<Network> networks_;
};

// A gRPC peer string as people read addresses: "10.1.2.3:5000", "[::1]:5000"
// (the scheme and percent-encoding removed); others are returned decoded.
std::string grpc_peer_address(std::string_view encoded_peer);

}  // namespace steward
