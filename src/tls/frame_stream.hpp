#pragma once
// Length-prefixed frames over TLS on one TCP socket, for long-lived links
// that are idle most of the time (the agent link): OpenSSL works on the
// socket itself (no BIO pair, no copy buffers) and releases its record
// buffers between frames, so an idle link costs a few KiB. The socket is
// non-blocking; OpenSSL's WANT_READ/WANT_WRITE become Asio readiness waits
// on the loop.
//
// A frame is a 4-byte big-endian length, then that many bytes. One reader
// and one writer may be active at a time (loop thread only). close() ends
// both; after it every call fails at once.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

struct ssl_st;
struct ssl_ctx_st;

namespace steward::tls {

inline constexpr std::size_t kFrameHeaderSize = 4;

// A frame whose payload is appended to `frame` later: its header space.
std::string frame_buffer(std::size_t payload_hint = 0);
// Writes the payload's length into the header space of `frame`.
void seal_frame(std::string& frame);

// TCP keepalive on a link that may sit idle for hours: the peer's loss (a
// host gone, a cable cut) ends the link within about 15 s, with no traffic
// and no CPU from either program while the peer answers.
void keep_alive(boost::asio::ip::tcp::socket& socket);

enum class TlsRole { Client, Server };

class FrameStream {
 public:
  // Takes the connected socket and a new SSL session of `context` in `role`.
  FrameStream(boost::asio::ip::tcp::socket socket, ssl_ctx_st* context, TlsRole role);
  ~FrameStream();
  FrameStream(const FrameStream&) = delete;
  FrameStream& operator=(const FrameStream&) = delete;

  // For the caller's settings before the handshake (SNI, host check).
  ssl_st* session() const { return session_; }
  // "ADDR:PORT" ("[V6]:PORT") of the peer; empty when unknown.
  const std::string& peer() const { return peer_; }

  // Unreachable with OpenSSL's reason when the handshake fails.
  boost::asio::awaitable<Status> handshake();
  // The next frame's payload. InvalidArgument when its length passes
  // `max_size` (nothing more is read); Unreachable when the link ends.
  boost::asio::awaitable<Result<std::string>> read_frame(std::size_t max_size);
  // Writes a whole frame made with frame_buffer + seal_frame.
  boost::asio::awaitable<Status> write_frame(const std::string& frame);
  // Sends TLS close_notify (best effort, without waiting) and closes.
  void shutdown();
  // Closes the socket: waits in progress end, later calls fail.
  void close();
  bool closed() const { return closed_; }

 private:
  enum class Step { Handshake, Read, Write };
  // Repeats one OpenSSL call until it makes progress: the byte count (1 for
  // a handshake), or the error that ended the link.
  boost::asio::awaitable<Result<int>> perform(Step step, void* data, int size);
  boost::asio::awaitable<Status> read_exactly(char* data, std::size_t size);

  boost::asio::ip::tcp::socket socket_;
  ssl_st* session_;
  std::string peer_;
  bool closed_ = false;
};

// Frames waiting for a link's one writer, in the order they were pushed
// (loop thread only): senders push, one coroutine writes them out.
class FrameOutbox {
 public:
  explicit FrameOutbox(boost::asio::any_io_executor executor);

  void push(std::string frame);
  // The writer ends once what is queued has been written; nothing more is taken.
  void finish();
  // What is queued is dropped and the writer ends now.
  void drop();
  // Neither finishing nor dropped: push() is taken.
  bool open() const { return !finishing_ && !dropped_; }
  bool finishing() const { return finishing_; }

  // Writes frames to `stream` as they come: after finish(), OK once the last
  // one is written; after drop(), Cancelled; else the failed write's error.
  boost::asio::awaitable<Status> write_to(FrameStream& stream);

 private:
  std::deque<std::string> frames_;
  boost::asio::steady_timer wake_;
  bool finishing_ = false;
  bool dropped_ = false;
};

}  // namespace steward::tls
