#include "core/listen_address.hpp"

namespace steward {

namespace asio = boost::asio;
using asio::ip::tcp;

Result<tcp::endpoint> parse_listen_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return make_error(ErrorCode::InvalidArgument, "expected ADDR:PORT, got " + address);
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) return make_error(ErrorCode::InvalidArgument, "not an IP address: " + host);
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) return make_error(ErrorCode::InvalidArgument, "bad port in " + address);
  return tcp::endpoint(ip, static_cast<unsigned short>(port));
}

}  // namespace steward
