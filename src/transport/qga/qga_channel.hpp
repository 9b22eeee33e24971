#pragma once
// One connection to one qemu-ga socket, shared by every request to the
// targets behind it. qemu-ga serves a single client per socket (a second
// client waits in the listen backlog until the first hangs up), answers in
// order and has no request ids, so requests take turns: one
// request/response in flight at a time.
//
// The connection is opened on first use and re-opened whenever it is found
// broken (qemu-ga restarted, VM rebooted). Every (re)connect starts with
// guest-sync-delimited, which flushes whatever a previous client left
// behind, then guest-ping, the reachability check. A request that times
// out closes the connection, as its late reply would otherwise be read as
// the answer to the next one.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "transport/qga/async_lock.hpp"
#include "transport/qga/qga_reply.hpp"

namespace steward::transport::qga {

constexpr std::chrono::milliseconds kRpcTimeout{10000};

class Channel {
 public:
  Channel(boost::asio::any_io_executor executor, std::string socket_path,
          std::chrono::milliseconds connect_timeout = kRpcTimeout);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Sends `{"execute": command, "arguments": arguments}` and returns the
  // reply's "return" value. Errors, each naming `target` and the socket:
  // Unreachable when the socket cannot be reached, the handshake or the
  // reply times out, or the connection is lost; Internal with qemu-ga's
  // description for an error reply (only qemu-ga itself answers Internal).
  boost::asio::awaitable<Result<boost::json::value>> call(const std::string& target, std::string_view command,
                                                          boost::json::object arguments,
                                                          std::chrono::milliseconds timeout = kRpcTimeout);

  // Closes the connection for good; later calls fail with Unavailable.
  void close();

  const std::string& socket_path() const { return socket_path_; }
  bool connected() const { return socket_.has_value(); }
  // How many times a connection was opened (tests observe reconnects).
  int connects() const { return connects_; }

 private:
  using Clock = std::chrono::steady_clock;

  boost::asio::awaitable<Status> ensure_connected(const std::string& target, Clock::time_point deadline);
  boost::asio::awaitable<Status> synchronise(const std::string& target, Clock::time_point deadline);
  boost::asio::awaitable<Status> ping(const std::string& target, Clock::time_point deadline);
  boost::asio::awaitable<Status> send(const std::string& target, const std::string& line,
                                      Clock::time_point deadline);
  // Bytes up to (not including) the next newline; skips to the first 0xFF
  // byte first when `after_delimiter`.
  boost::asio::awaitable<Result<std::string>> read_line(const std::string& target, Clock::time_point deadline,
                                                        bool after_delimiter);
  boost::asio::awaitable<Result<std::size_t>> read_some(const std::string& target, Clock::time_point deadline);
  // True when an idle connection has something to read: EOF from a qemu-ga
  // that went away, or bytes nobody asked for. Either way it is stale.
  bool stale();
  void disconnect();
  Error unreachable(const std::string& target, const std::string& what) const;

  boost::asio::any_io_executor executor_;
  std::string socket_path_;
  std::chrono::milliseconds connect_timeout_;  // connect and handshake
  std::optional<boost::asio::local::stream_protocol::socket> socket_;
  std::string buffer_;  // bytes read past the last reply
  AsyncLock turn_;
  bool closed_ = false;
  int connects_ = 0;
};

}  // namespace steward::transport::qga
