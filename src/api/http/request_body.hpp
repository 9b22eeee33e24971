#pragma once
// The body of a request on a streamed route (Router::add_streamed), read by
// its handler piece by piece so an upload never sits whole in memory.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <cstdint>

#include "core/result.hpp"

namespace steward::api::http {

class HttpStream;

class RequestBody {
 public:
  using Parser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;

  // `parser` has read the header; the stream, buffer and parser outlive this.
  RequestBody(HttpStream& stream, boost::beast::flat_buffer& buffer, Parser& parser, std::chrono::seconds idle_timeout)
      : stream_(stream), buffer_(buffer), parser_(parser), idle_timeout_(idle_timeout) {}

  // Up to `size` bytes into `data`; 0 once the body has ended. A client that
  // sent "Expect: 100-continue" gets its "100 Continue" on the first call.
  // InvalidArgument when the body is larger than the limit (too_large() then
  // tells) or malformed; Unavailable when the client goes away or stalls
  // longer than the idle timeout.
  boost::asio::awaitable<Result<std::size_t>> read_some(char* data, std::size_t size);

  bool complete() const { return parser_.is_done(); }
  bool too_large() const { return too_large_; }

 private:
  HttpStream& stream_;
  boost::beast::flat_buffer& buffer_;
  Parser& parser_;
  std::chrono::seconds idle_timeout_;
  bool continue_sent_ = false;
  bool too_large_ = false;
};

}  // namespace steward::api::http
