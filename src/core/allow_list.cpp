#include "core/allow_list.hpp"

#include <boost/asio/ip/address.hpp>

#include <cctype>

#include "core/strings.hpp"

namespace steward {
namespace {

using boost::asio::ip::address;

// Four bytes for IPv4 (and IPv4-mapped IPv6), sixteen for IPv6.
std::vector<unsigned char> bytes_of(const address& ip) {
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) return bytes_of(make_address_v4(boost::asio::ip::v4_mapped, ip.to_v6()));
  if (ip.is_v4()) {
    auto raw = ip.to_v4().to_bytes();
    return {raw.begin(), raw.end()};
  }
  auto raw = ip.to_v6().to_bytes();
  return {raw.begin(), raw.end()};
}

// gRPC (1.48 on) percent-encodes the brackets of IPv6 peers: "ipv6:%5B::1%5D:5000".
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

bool parse_address(std::string_view text, address& out) {
  boost::system::error_code ec;
  out = boost::asio::ip::make_address(std::string(text), ec);
  return !ec;
}

}  // namespace

Result<AllowList> AllowList::parse(std::string_view text) {
  AllowList list;
  for (const auto& entry : split_nonempty(text, ',')) {
    auto slash = entry.find('/');
    address ip;
    if (!parse_address(std::string_view(entry).substr(0, slash), ip))
      return make_error(ErrorCode::InvalidArgument, "'" + entry + "' is not an IP address or CIDR network");
    Network network{bytes_of(ip), 0};
    unsigned bits = static_cast<unsigned>(network.bytes.size() * 8);
    // An IPv4-mapped network ("::ffff:10.0.0.0/104") is the IPv4 network it maps.
    unsigned mapped_offset = ip.is_v6() && network.bytes.size() == 4 ? 96 : 0;
    network.prefix = bits;
    if (slash != std::string::npos) {
      std::string prefix = entry.substr(slash + 1);
      bool digits = !prefix.empty() && prefix.size() <= 3 && prefix.find_first_not_of("0123456789") == std::string::npos;
      unsigned length = digits ? static_cast<unsigned>(std::stoul(prefix)) : 0;
      if (!digits || length < mapped_offset || length - mapped_offset > bits)
        return make_error(ErrorCode::InvalidArgument, "'" + entry + "': the prefix length must be " +
                                                          std::to_string(mapped_offset) + " to " +
                                                          std::to_string(bits + mapped_offset));
      network.prefix = length - mapped_offset;
    }
    list.networks_.push_back(std::move(network));
  }
  return list;
}

bool AllowList::allows(std::string_view text) const {
  address ip;
  if (networks_.empty() || !parse_address(text, ip)) return false;
  auto bytes = bytes_of(ip);
  for (const auto& network : networks_) {
    if (network.bytes.size() != bytes.size()) continue;
    unsigned whole = network.prefix / 8, rest = network.prefix % 8;
    bool same = std::equal(bytes.begin(), bytes.begin() + whole, network.bytes.begin());
    if (same && rest != 0) {
      unsigned char mask = static_cast<unsigned char>(0xFF << (8 - rest));
      same = (bytes[whole] & mask) == (network.bytes[whole] & mask);
    }
    if (same) return true;
  }
  return false;
}

std::string grpc_peer_address(std::string_view encoded_peer) {
  std::string decoded = percent_decoded(encoded_peer);
  for (std::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (decoded.starts_with(scheme)) return decoded.substr(scheme.size());
  }
  return decoded;
}

bool AllowList::allows_grpc_peer(std::string_view encoded_peer) const {
  const bool ipv4 = encoded_peer.starts_with("ipv4:");
  if (!ipv4 && !encoded_peer.starts_with("ipv6:")) return false;
  const std::string address = grpc_peer_address(encoded_peer);  // "HOST:PORT" or "[HOST]:PORT"
  std::string_view host = address;
  if (ipv4) return allows(host.substr(0, host.rfind(':')));
  if (!host.starts_with('[')) return false;
  host = host.substr(1, host.find(']') - 1);
  return allows(host.substr(0, host.find('%')));  // without a zone id
}

}  // namespace steward
