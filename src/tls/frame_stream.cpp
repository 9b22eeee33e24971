#include "tls/frame_stream.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tls/openssl_util.hpp"

namespace steward::tls {
namespace {

namespace asio = boost::asio;
constexpr std::size_t kReadStep = 64 * 1024;  // a payload grows as it arrives, not by its claimed length

std::string address_of(const asio::ip::tcp::socket& socket) {
  boost::system::error_code failed;
  auto endpoint = socket.remote_endpoint(failed);
  if (failed) return {};
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

// Why OpenSSL gave up, in words; the verification result names a refused
// certificate more precisely than the error queue.
std::string reason_of(ssl_st* session, int error) {
  if (error == SSL_ERROR_ZERO_RETURN) return "the peer closed the link";
  if (error == SSL_ERROR_SYSCALL) {
    std::string queued = take_openssl_error();
    if (!queued.empty()) return queued;
    return errno != 0 ? std::strerror(errno) : "the peer closed the connection";
  }
  const long verified = SSL_get_verify_result(session);
  std::string queued = take_openssl_error();
  if (verified != X509_V_OK)
    return std::string("certificate refused: ") + X509_verify_cert_error_string(verified);
  return queued.empty() ? "TLS error " + std::to_string(error) : queued;
}

}  // namespace

std::string frame_buffer(std::size_t payload_hint) {
  std::string frame;
  frame.reserve(kFrameHeaderSize + payload_hint);
  frame.resize(kFrameHeaderSize);
  return frame;
}

void seal_frame(std::string& frame) {
  const auto size = static_cast<std::uint32_t>(frame.size() - kFrameHeaderSize);
  for (std::size_t i = 0; i < kFrameHeaderSize; ++i)
    frame[i] = static_cast<char>((size >> (8 * (kFrameHeaderSize - 1 - i))) & 0xff);
}

void keep_alive(asio::ip::tcp::socket& socket) {
  const int fd = socket.native_handle();
  const int on = 1, idle = 9, interval = 2, probes = 3;
  const unsigned unacknowledged_ms = 15000;  // data the peer never acknowledges also ends it
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &unacknowledged_ms, sizeof unacknowledged_ms);
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

FrameStream::FrameStream(asio::ip::tcp::socket socket, ssl_ctx_st* context, TlsRole role)
    : socket_(std::move(socket)), session_(SSL_new(context)), peer_(address_of(socket_)) {
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);
  if (!session_) {
    close();
    return;
  }
  SSL_set_fd(session_, static_cast<int>(socket_.native_handle()));
  // An idle link holds no record buffers (they are taken again per frame).
  SSL_set_mode(session_, SSL_MODE_RELEASE_BUFFERS);
  if (role == TlsRole::Client)
    SSL_set_connect_state(session_);
  else
    SSL_set_accept_state(session_);
}

FrameStream::~FrameStream() {
  close();
  if (session_) SSL_free(session_);
}

asio::awaitable<Result<int>> FrameStream::perform(Step step, void* data, int size) {
  for (;;) {
    if (closed_) co_return make_error(ErrorCode::Unreachable, "the link is closed");
    ERR_clear_error();
    errno = 0;
    const int done = step == Step::Handshake ? SSL_do_handshake(session_)
                     : step == Step::Read    ? SSL_read(session_, data, size)
                                             : SSL_write(session_, data, size);
    if (done > 0) co_return done;
    const int error = SSL_get_error(session_, done);
    asio::socket_base::wait_type wait{};
    if (error == SSL_ERROR_WANT_READ) {
      wait = asio::socket_base::wait_read;
    } else if (error == SSL_ERROR_WANT_WRITE) {
      wait = asio::socket_base::wait_write;
    } else {
      co_return make_error(ErrorCode::Unreachable, reason_of(session_, error));
    }
    boost::system::error_code failed;
    co_await socket_.async_wait(wait, asio::redirect_error(asio::use_awaitable, failed));
    if (failed) co_return make_error(ErrorCode::Unreachable, closed_ ? "the link is closed" : failed.message());
  }
}

asio::awaitable<Status> FrameStream::handshake() {
  auto done = co_await perform(Step::Handshake, nullptr, 0);
  if (!done) co_return done.error();
  co_return Status{};
}

asio::awaitable<Status> FrameStream::read_exactly(char* data, std::size_t size) {
  std::size_t have = 0;
  while (have < size) {
    const int wanted = static_cast<int>(std::min(size - have, kReadStep));
    auto got = co_await perform(Step::Read, data + have, wanted);
    if (!got) co_return got.error();
    have += static_cast<std::size_t>(*got);
  }
  co_return Status{};
}

asio::awaitable<Result<std::string>> FrameStream::read_frame(std::size_t max_size) {
  unsigned char header[kFrameHeaderSize];
  auto read = co_await read_exactly(reinterpret_cast<char*>(header), sizeof header);
  if (!read) co_return read.error();
  std::size_t size = 0;
  for (unsigned char byte : header) size = (size << 8) | byte;
  if (size > max_size)
    co_return make_error(ErrorCode::InvalidArgument,
                         "a frame of " + std::to_string(size) + " bytes (at most " + std::to_string(max_size) + ")");
  std::string payload;
  while (payload.size() < size) {
    const std::size_t have = payload.size();
    payload.resize(have + std::min(size - have, kReadStep));
    auto more = co_await read_exactly(payload.data() + have, payload.size() - have);
    if (!more) co_return more.error();
  }
  co_return payload;
}

asio::awaitable<Status> FrameStream::write_frame(const std::string& frame) {
  std::size_t sent = 0;
  while (sent < frame.size()) {
    // Without partial writes, OpenSSL takes the whole rest or nothing.
    auto wrote = co_await perform(Step::Write, const_cast<char*>(frame.data() + sent),
                                  static_cast<int>(std::min<std::size_t>(frame.size() - sent, 1u << 30)));
    if (!wrote) co_return wrote.error();
    sent += static_cast<std::size_t>(*wrote);
  }
  co_return Status{};
}

void FrameStream::shutdown() {
  if (!closed_ && session_ && SSL_is_init_finished(session_)) {
    ERR_clear_error();
    SSL_shutdown(session_);  // non-blocking: close_notify if the socket takes it now
    ERR_clear_error();
  }
  close();
}

FrameOutbox::FrameOutbox(asio::any_io_executor executor)
    : wake_(std::move(executor), asio::steady_timer::time_point::max()) {}

void FrameOutbox::push(std::string frame) {
  if (!open()) return;
  frames_.push_back(std::move(frame));
  wake_.cancel();
}

void FrameOutbox::finish() {
  finishing_ = true;
  wake_.cancel();
}

void FrameOutbox::drop() {
  dropped_ = true;
  frames_.clear();
  wake_.cancel();
}

asio::awaitable<Status> FrameOutbox::write_to(FrameStream& stream) {
  for (;;) {
    while (!frames_.empty() && !dropped_) {
      const std::string frame = std::move(frames_.front());
      frames_.pop_front();
      auto written = co_await stream.write_frame(frame);
      if (!written) co_return written.error();
    }
    if (dropped_) co_return make_error(ErrorCode::Cancelled, "the link was dropped");
    if (finishing_) co_return Status{};
    wake_.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code woken;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, woken));
  }
}

void FrameStream::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace steward::tls
