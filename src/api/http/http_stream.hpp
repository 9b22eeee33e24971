#pragma once
// One REST connection's byte stream: plain TCP, or TLS over it. Beast's HTTP
// reads and writes, and the Exchange, use it without knowing which; the
// choice is made per connection at run time, so one server type serves both.
// Timeouts (expires_after) and closing act on the TCP layer underneath.
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <optional>

namespace steward::api::http {

namespace beast = boost::beast;

class HttpStream {
 public:
  using executor_type = beast::tcp_stream::executor_type;

  explicit HttpStream(boost::asio::ip::tcp::socket socket) : plain_(std::in_place, std::move(socket)) {}
  HttpStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& tls)
      : tls_(std::in_place, std::move(socket), tls) {}

  bool is_tls() const { return tls_.has_value(); }
  beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *plain_; }
  executor_type get_executor() { return tcp().get_executor(); }
  // The deadline of every operation until the next call.
  void expires_after(std::chrono::steady_clock::duration timeout) { tcp().expires_after(timeout); }

  enum class TlsStart { Ready, NotTls, Failed };
  // TLS only: reads the client's first bytes and completes the handshake,
  // both within `timeout` (the deadline is not reset in between, so a client
  // that stalls anywhere in the handshake is closed when it runs out).
  // NotTls: the client spoke something else (plain HTTP); nothing was sent.
  boost::asio::awaitable<TlsStart> start_tls(std::chrono::steady_clock::duration timeout);
  // TLS only: sends close_notify and waits at most `timeout` for the peer's.
  boost::asio::awaitable<void> stop_tls(std::chrono::steady_clock::duration timeout);

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& buffers) {
          if (tls_) tls_->async_read_some(buffers, std::move(handler));
          else plain_->async_read_some(buffers, std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& buffers) {
          if (tls_) tls_->async_write_some(buffers, std::move(handler));
          else plain_->async_write_some(buffers, std::move(handler));
        },
        token, buffers);
  }

 private:
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
};

}  // namespace steward::api::http
