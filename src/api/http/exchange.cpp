#include "api/http/exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>

#include <poll.h>

#include <algorithm>

#include "api/http/http_stream.hpp"
#include "api/http/request_body.hpp"
#include "core/strings.hpp"

namespace steward::api::http {

namespace http = beast::http;
constexpr auto kNoThrow = boost::asio::as_tuple(boost::asio::use_awaitable);
// A client that takes longer than this to accept one write is gone.
constexpr std::chrono::seconds kWriteTimeout{60};

http::status status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return http::status::bad_request;
    case ErrorCode::NotFound: return http::status::not_found;
    case ErrorCode::Unauthenticated: return http::status::unauthorized;
    case ErrorCode::PermissionDenied: return http::status::forbidden;
    case ErrorCode::Unreachable: return http::status::bad_gateway;
    case ErrorCode::Timeout: return http::status::gateway_timeout;
    case ErrorCode::Conflict: return http::status::conflict;
    case ErrorCode::Cancelled: return http::status::conflict;
    case ErrorCode::Unavailable: return http::status::service_unavailable;
    case ErrorCode::Internal: return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

template <typename Body>
boost::asio::awaitable<void> Exchange::send(http::response<Body> response) {
  replied_ = true;
  status_ = response.result_int();
  keep_alive_ = request_.keep_alive() && (!body || body->complete());
  response.version(request_.version());
  response.keep_alive(keep_alive_);
  for (const auto& [field, value] : headers_) response.set(field, value);
  for (const auto& [name, value] : named_headers_) response.set(name, value);
  response.set(http::field::server, "steward/" STEWARD_VERSION);
  response.prepare_payload();
  stream_.expires_after(kWriteTimeout);
  auto [ec, n] = co_await http::async_write(stream_, response, kNoThrow);
  if (ec) keep_alive_ = false;
}

boost::asio::awaitable<void> Exchange::reply(http::status status, const boost::json::value& body) {
  if (const auto* object = body.if_object()) {
    if (const auto* jid = object->if_contains("jid"); jid && jid->is_string()) reply_jid_ = jid->get_string();
  }
  Response response{status, request_.version()};
  if (status != http::status::no_content) {
    response.set(http::field::content_type, "application/json");
    // Invalid UTF-8 can only come from string contents (JSON syntax is
    // ASCII), so repairing the text repairs every string at once.
    response.body() = to_valid_utf8(boost::json::serialize(body));
    response.body() += '\n';
  }
  co_await send(std::move(response));
}

boost::asio::awaitable<void> Exchange::reply_json(http::status status,
                                                const std::shared_ptr<const std::string>& text) {
  http::response<http::span_body<const char>> response{status, request_.version()};
  response.set(http::field::content_type, "application/json");
  response.body() = beast::span<const char>(text->data(), text->size());
  co_await send(std::move(response));
}

boost::asio::awaitable<void> Exchange::reply_text(http::status status, std::string content_type, std::string body) {
  Response response{status, request_.version()};
  response.set(http::field::content_type, content_type);
  response.body() = std::move(body);
  co_await send(std::move(response));
}

boost::asio::awaitable<void> Exchange::reply_static(http::status status, std::string_view content_type,
                                                  std::string_view bytes) {
  http::response<http::span_body<const char>> response{status, request_.version()};
  if (!content_type.empty()) response.set(http::field::content_type, content_type);
  response.body() = beast::span<const char>(bytes.data(), bytes.size());
  co_await send(std::move(response));
}

boost::asio::awaitable<void> Exchange::reply_error(const Error& error) {
  co_await reply_error(status_for(error.code), error.message);
}

boost::asio::awaitable<void> Exchange::reply_error(http::status status, const std::string& message) {
  // Built outside the co_await: GCC 12 rejects braced temporaries there.
  error_message_ = message;
  boost::json::object body;
  body["message"] = message;
  co_await reply(status, body);
}

boost::asio::awaitable<bool> Exchange::begin_stream(const std::string& content_type) {
  replied_ = true;
  status_ = 200;
  keep_alive_ = false;  // a stream ends the connection; simpler for every client
  http::response<http::empty_body> response{http::status::ok, request_.version()};
  response.set(http::field::content_type, content_type);
  response.set(http::field::cache_control, "no-cache");
  response.set(http::field::server, "steward/" STEWARD_VERSION);
  response.keep_alive(false);
  response.chunked(true);
  http::response_serializer<http::empty_body> serializer{response};
  stream_.expires_after(kWriteTimeout);
  auto [ec, n] = co_await http::async_write_header(stream_, serializer, kNoThrow);
  co_return !ec;
}

boost::asio::awaitable<bool> Exchange::begin_sized(const std::string& content_type, std::uint64_t length) {
  replied_ = true;
  keep_alive_ = request_.keep_alive() && (!body || body->complete());
  http::response<http::empty_body> response{http::status::ok, request_.version()};
  response.set(http::field::content_type, content_type);
  response.set(http::field::server, "steward/" STEWARD_VERSION);
  for (const auto& [field, value] : headers_) response.set(field, value);
  for (const auto& [name, value] : named_headers_) response.set(name, value);
  response.keep_alive(keep_alive_);
  response.content_length(length);
  http::response_serializer<http::empty_body> serializer{response};
  stream_.expires_after(kWriteTimeout);
  auto [ec, n] = co_await http::async_write_header(stream_, serializer, kNoThrow);
  if (ec) keep_alive_ = false;
  unsent_ = request_.method() == http::verb::head ? 0 : length;
  co_return !ec;
}

boost::asio::awaitable<bool> Exchange::write_bytes(const char* data, std::size_t size) {
  if (request_.method() == http::verb::head) co_return true;
  stream_.expires_after(kWriteTimeout);
  auto [ec, n] = co_await boost::asio::async_write(stream_, boost::asio::buffer(data, size), kNoThrow);
  unsent_ -= std::min<std::uint64_t>(unsent_, n);
  if (ec) keep_alive_ = false;
  co_return !ec;
}

boost::asio::awaitable<bool> Exchange::write_chunk(const std::string& document) {
  if (document.empty()) co_return true;  // an empty chunk would end the stream
  const std::string data = to_valid_utf8(document);
  stream_.expires_after(kWriteTimeout);
  auto [ec, n] = co_await boost::asio::async_write(stream_, http::make_chunk(boost::asio::buffer(data)), kNoThrow);
  co_return !ec;
}

boost::asio::awaitable<void> Exchange::end_stream() {
  stream_.expires_after(kWriteTimeout);
  co_await boost::asio::async_write(stream_, http::make_chunk_last(), kNoThrow);
}

// POLLRDHUP sees the client's FIN even behind bytes it sent and nobody
// reads (a TLS client's close_notify, say), which a peek would stop at.
bool Exchange::peer_connected() {
  pollfd entry{stream_.tcp().socket().native_handle(), POLLRDHUP, 0};
  if (::poll(&entry, 1, 0) <= 0) return true;  // nothing happened (or EINTR: ask again later)
  return (entry.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0;
}

}  // namespace steward::api::http
