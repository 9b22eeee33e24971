// Bytes an SFTP server sends: packet framing (whole, and split across two
// reads as the channel delivers them), then each reply decoded as every kind
// of reply the client expects.
#include "fuzz_input.hpp"
#include "transport/ssh/sftp_wire.hpp"

namespace {

using namespace steward::transport::ssh;

void decode(const SftpPackets& packets) {
  if (packets.version) (void)version_extensions(packets.version->body);
  for (const auto& [id, reply] : packets.replies) {
    (void)parse_status(reply.body);
    (void)parse_attributes(reply.body);
    SftpReader handle_or_data(reply.body);
    (void)handle_or_data.string();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto bytes = steward::fuzz::text_of(data, size);
  decode(split_packets(bytes));
  // As SftpClient::receive: what the first read left is completed by the second.
  std::string inbound(bytes.substr(0, size / 2));
  auto first = split_packets(inbound);
  decode(first);
  inbound.erase(0, first.used);
  inbound.append(bytes.substr(size / 2));
  decode(split_packets(inbound));
  return 0;
}
