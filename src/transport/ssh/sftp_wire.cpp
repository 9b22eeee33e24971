#include "transport/ssh/sftp_wire.hpp"

namespace steward::transport::ssh {

using namespace sftp_wire;

std::uint32_t SftpReader::u32() {
  if (bytes_.size() < 4) return fail();
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes_[i]);
  bytes_.remove_prefix(4);
  return value;
}

std::uint64_t SftpReader::u64() {
  std::uint64_t high = u32();
  return (high << 32) | u32();
}

std::string SftpReader::string() {
  std::uint32_t length = u32();
  if (!ok_ || bytes_.size() < length) return fail(), std::string();
  std::string value(bytes_.substr(0, length));
  bytes_.remove_prefix(length);
  return value;
}

std::uint32_t SftpReader::fail() {
  ok_ = false;
  bytes_ = {};
  return 0;
}

SftpPackets split_packets(std::string_view inbound) {
  SftpPackets packets;
  std::size_t& used = packets.used;
  while (inbound.size() - used >= 5) {
    SftpReader header(inbound.substr(used, 4));
    std::uint32_t length = header.u32();
    if (length == 0 || length > kMaxPacket) {
      packets.corrupt = true;
      break;
    }
    if (inbound.size() - used < 4 + std::size_t{length}) break;
    std::string_view packet = inbound.substr(used + 4, length);
    if (packet.size() < 5) {  // every packet a server sends has its type and a version number or request id
      packets.corrupt = true;
      break;
    }
    SftpReply reply{static_cast<std::uint8_t>(packet[0]), {}};
    if (reply.type == kVersion) {
      reply.body.assign(packet.substr(5));  // after the version number
      packets.version = std::move(reply);
    } else {
      SftpReader id_reader(packet.substr(1, 4));
      reply.body.assign(packet.substr(5));
      packets.replies.emplace_back(id_reader.u32(), std::move(reply));
    }
    used += 4 + length;
  }
  return packets;
}

SftpStatus parse_status(std::string_view body) {
  SftpReader reader(body);
  SftpStatus status;
  status.code = reader.u32();
  status.message = reader.string();
  status.ok = reader.ok();
  return status;
}

std::optional<SftpAttributes> parse_attributes(std::string_view body) {
  SftpReader reader(body);
  SftpAttributes attributes;
  std::uint32_t flags = reader.u32();
  if (flags & kAttrSize) attributes.size = reader.u64();
  if (flags & kAttrUidGid) reader.u64();
  if (flags & kAttrPermissions) attributes.permissions = reader.u32();
  if (flags & kAttrTimes) reader.u64();  // extended attributes may follow; not needed
  if (!reader.ok()) return std::nullopt;
  return attributes;
}

std::vector<std::string> version_extensions(std::string_view body) {
  SftpReader reader(body);
  std::vector<std::string> names;
  while (!reader.empty() && reader.ok()) {
    auto name = reader.string();
    if (!reader.ok()) break;
    reader.string();  // the extension's data
    names.push_back(std::move(name));
  }
  return names;
}

}  // namespace steward::transport::ssh
