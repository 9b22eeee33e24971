#pragma once
// SFTP version 3 on the wire (draft-ietf-secsh-filexfer-02): packet framing
// and the decoding of what a server sends, apart from any channel, so bytes
// from a server can be checked on their own (tests/fuzz/sftp_fuzzer.cpp).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steward::transport::ssh {

namespace sftp_wire {
// Packet types and status codes.
enum : std::uint8_t {
  kInit = 1, kVersion = 2, kOpen = 3, kClose = 4, kRead = 5, kWrite = 6, kSetstat = 9, kRemove = 13,
  kStat = 17, kRename = 18, kStatus = 101, kHandle = 102, kData = 103, kAttrs = 105, kExtended = 200,
};
enum : std::uint32_t { kStatusOk = 0, kStatusEof = 1, kNoSuchFile = 2, kPermissionDenied = 3 };
constexpr std::uint32_t kAttrSize = 0x1, kAttrUidGid = 0x2, kAttrPermissions = 0x4, kAttrTimes = 0x8;
// Guards against a corrupt stream claiming a huge packet.
constexpr std::uint32_t kMaxPacket = 1u << 20;
}  // namespace sftp_wire

struct SftpAttributes {
  std::optional<std::uint64_t> size;
  std::optional<std::uint32_t> permissions;
};

// One reply: its packet type and the bytes after the request id.
struct SftpReply {
  std::uint8_t type = 0;
  std::string body;
};

// Reads big-endian fields; any overrun makes ok() false (and every later read 0 or empty).
class SftpReader {
 public:
  explicit SftpReader(std::string_view bytes) : bytes_(bytes) {}
  std::uint32_t u32();
  std::uint64_t u64();
  std::string string();
  bool ok() const { return ok_; }
  bool empty() const { return bytes_.empty(); }

 private:
  std::uint32_t fail();
  std::string_view bytes_;
  bool ok_ = true;
};

// The whole packets at the front of a byte stream.
struct SftpPackets {
  std::optional<SftpReply> version;                           // the server's VERSION (body after the number)
  std::vector<std::pair<std::uint32_t, SftpReply>> replies;  // by request id, in stream order
  std::size_t used = 0;                                       // bytes the whole packets took
  bool corrupt = false;  // a packet length no server sends: nothing after it can be trusted
};
SftpPackets split_packets(std::string_view inbound);

// A STATUS reply's code and message (code 0 and no message when malformed: the caller checks ok).
struct SftpStatus {
  std::uint32_t code = 0;
  std::string message;
  bool ok = false;
};
SftpStatus parse_status(std::string_view body);

// An ATTRS reply; nullopt when its fields overrun the body.
std::optional<SftpAttributes> parse_attributes(std::string_view body);

// The extension names a VERSION body lists (name/data pairs).
std::vector<std::string> version_extensions(std::string_view body);

}  // namespace steward::transport::ssh
