#pragma once
// One HTTP request and the means to answer it: a whole JSON reply, or a
// chunked stream (NDJSON, Server-Sent Events) written piece by piece.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/auth/role.hpp"
#include "core/result.hpp"

namespace steward::api::http {

namespace beast = boost::beast;
class HttpStream;
class RequestBody;
using Request = beast::http::request<beast::http::string_body>;
using Response = beast::http::response<beast::http::string_body>;

class Exchange {
 public:
  Exchange(HttpStream& stream, const Request& request, std::map<std::string, std::string> query)
      : stream_(stream), request_(request), query_(std::move(query)) {}

  const Request& request() const { return request_; }
  const std::map<std::string, std::string>& query() const { return query_; }
  std::optional<std::string> param(const std::string& name) const {
    auto it = query_.find(name);
    return it == query_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  // Values captured from the route pattern (":jid").
  std::map<std::string, std::string> captures;
  // Who sent the request (a token's name, never the token), once authenticated.
  auth::Caller caller;
  // On a streamed route (Router::add_streamed): the body, still to be read
  // (request().body() is empty). Replying before it was read to its end
  // closes the connection after the reply.
  RequestBody* body = nullptr;

  // Adds a header to the reply that follows.
  void set_header(beast::http::field field, std::string value) { headers_.emplace_back(field, std::move(value)); }
  // One Beast has no enumerator for (Content-Security-Policy, ...).
  void set_header(std::string name, std::string value) { named_headers_.emplace_back(std::move(name), std::move(value)); }

  // Replies with JSON (or no body for 204).
  boost::asio::awaitable<void> reply(beast::http::status status, const boost::json::value& body);
  // Replies with a JSON text made beforehand (valid UTF-8, newline included),
  // shared with other replies rather than copied; the caller keeps it.
  boost::asio::awaitable<void> reply_json(beast::http::status status, const std::shared_ptr<const std::string>& text);
  boost::asio::awaitable<void> reply_text(beast::http::status status, std::string content_type, std::string body);
  // Replies with bytes that outlive the reply (compiled into the binary), not copied.
  boost::asio::awaitable<void> reply_static(beast::http::status status, std::string_view content_type,
                                            std::string_view bytes);
  // {"message": ...} with the status the error code maps to.
  boost::asio::awaitable<void> reply_error(const Error& error);
  boost::asio::awaitable<void> reply_error(beast::http::status status, const std::string& message);

  // Streaming: headers first, then chunks, each a whole document (invalid
  // UTF-8 in it is replaced); false once the client went away.
  boost::asio::awaitable<bool> begin_stream(const std::string& content_type);
  boost::asio::awaitable<bool> write_chunk(const std::string& document);
  boost::asio::awaitable<void> end_stream();
  // A body of `length` bytes (a file), written piece by piece after the
  // header; false once the client went away. If fewer than `length` bytes
  // follow, the connection closes after them. A HEAD request gets the header alone.
  boost::asio::awaitable<bool> begin_sized(const std::string& content_type, std::uint64_t length);
  boost::asio::awaitable<bool> write_bytes(const char* data, std::size_t size);

  // While streaming: false once the client closed its end or the
  // connection failed (checked without blocking or consuming input).
  bool peer_connected();

  bool replied() const { return replied_; }
  bool keep_alive() const { return keep_alive_ && unsent_ == 0; }
  // The status sent (200 for a stream); 0 before any reply.
  unsigned status() const { return status_; }
  // The route that served the request ("GET /jobs/:jid"); empty when none did.
  std::string route;
  // The client's address.
  std::string peer;
  // For the audit trail: the "jid" of a JSON object reply, and the message of an error reply.
  const std::string& reply_jid() const { return reply_jid_; }
  const std::string& error_message() const { return error_message_; }

 private:
  template <typename Body>
  boost::asio::awaitable<void> send(beast::http::response<Body> response);

  HttpStream& stream_;
  const Request& request_;
  std::map<std::string, std::string> query_;
  std::vector<std::pair<beast::http::field, std::string>> headers_;
  std::vector<std::pair<std::string, std::string>> named_headers_;
  bool replied_ = false;
  bool keep_alive_ = true;
  unsigned status_ = 0;
  std::uint64_t unsent_ = 0;  // of a begin_sized body
  std::string reply_jid_;
  std::string error_message_;
};

beast::http::status status_for(ErrorCode code);

}  // namespace steward::api::http
