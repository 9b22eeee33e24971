#pragma once
// An SFTP (version 3) client on one channel of a pooled connection, driven
// from the event loop like everything else on the connection. libssh's own
// sftp API is blocking only (in the libssh Debian ships), so the protocol is
// spoken here: requests are written to the channel, replies matched by id.
// Requests can be pipelined (send now, await the reply later), which is what
// makes large transfers fast on a high-latency link.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "transport/ssh/connection.hpp"
#include "transport/ssh/sftp_wire.hpp"

namespace steward::transport::ssh {

namespace sftp_open {
constexpr std::uint32_t kRead = 0x01, kWrite = 0x02, kCreate = 0x08, kTruncate = 0x10, kExclusive = 0x20;
}

class SftpClient {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens the channel, starts the "sftp" subsystem and exchanges versions.
  static boost::asio::awaitable<Result<std::unique_ptr<SftpClient>>> start(Connection& connection,
                                                                           Clock::time_point deadline);
  ~SftpClient();
  SftpClient(const SftpClient&) = delete;
  SftpClient& operator=(const SftpClient&) = delete;

  boost::asio::awaitable<Result<std::string>> open(const std::string& path, std::uint32_t flags,
                                                   std::optional<std::uint32_t> permissions);
  boost::asio::awaitable<Status> close(const std::string& handle);
  boost::asio::awaitable<Result<SftpAttributes>> stat(const std::string& path);
  boost::asio::awaitable<Status> set_permissions(const std::string& path, std::uint32_t permissions);
  // Replaces `to` atomically when the server offers posix-rename@openssh.com.
  boost::asio::awaitable<Status> rename_over(const std::string& from, const std::string& to);
  boost::asio::awaitable<Status> remove(const std::string& path);

  // Pipelining: send a request now, collect its reply with await_status/await_data.
  boost::asio::awaitable<Result<std::uint32_t>> send_write(const std::string& handle, std::uint64_t offset,
                                                           std::string_view data);
  boost::asio::awaitable<Result<std::uint32_t>> send_read(const std::string& handle, std::uint64_t offset,
                                                          std::uint32_t length);
  boost::asio::awaitable<Status> await_status(std::uint32_t id, const std::string& what);
  // The data read; empty at end of file.
  boost::asio::awaitable<Result<std::string>> await_data(std::uint32_t id, const std::string& what);

  // Called by the channel callback with bytes from the server.
  void receive(std::string_view bytes);
  void mark_closed() { closed_ = true; }

 private:
  explicit SftpClient(Connection& connection);
  boost::asio::awaitable<Result<std::uint32_t>> send(std::uint8_t type, std::string payload);
  boost::asio::awaitable<Status> write_all(std::string_view bytes);
  boost::asio::awaitable<Result<SftpReply>> await_reply(std::uint32_t id);
  Error failure(const std::string& what, const std::string& detail) const;
  // The error a STATUS reply carries (NotFound for "no such file").
  Error status_failure(std::string_view status_body, const std::string& what) const;

  struct Channel;
  Connection& connection_;
  std::unique_ptr<Channel> channel_;
  std::string inbound_;
  std::map<std::uint32_t, SftpReply> replies_;
  std::optional<SftpReply> version_;
  std::uint32_t next_id_ = 1;
  bool closed_ = false;
  bool posix_rename_ = false;
};

}  // namespace steward::transport::ssh
