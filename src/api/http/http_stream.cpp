#include "api/http/http_stream.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detect_ssl.hpp>

namespace steward::api::http {

namespace asio = boost::asio;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<HttpStream::TlsStart> HttpStream::start_tls(std::chrono::steady_clock::duration timeout) {
  tcp().expires_after(timeout);
  beast::flat_buffer first_bytes;
  auto [detect_error, is_tls] = co_await beast::async_detect_ssl(tcp(), first_bytes, kNoThrow);
  if (detect_error) co_return TlsStart::Failed;
  if (!is_tls) co_return TlsStart::NotTls;
  auto [handshake_error, used] =
      co_await tls_->async_handshake(asio::ssl::stream_base::server, first_bytes.data(), kNoThrow);
  if (handshake_error) {
    // Scanners and clients that distrust the certificate end here: not worth more than debug.
    boost::system::error_code ignored;
    auto peer = tcp().socket().remote_endpoint(ignored);
    spdlog::debug("TLS handshake with {} failed: {}", peer.address().to_string(), handshake_error.message());
    co_return TlsStart::Failed;
  }
  co_return TlsStart::Ready;
}

asio::awaitable<void> HttpStream::stop_tls(std::chrono::steady_clock::duration timeout) {
  if (!tls_ || !tcp().socket().is_open()) co_return;
  tcp().expires_after(timeout);
  [[maybe_unused]] auto [ignored] = co_await tls_->async_shutdown(kNoThrow);
}

}  // namespace steward::api::http
