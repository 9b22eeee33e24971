#include "api/http/request_body.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>

#include <cctype>

#include "api/http/http_stream.hpp"

namespace steward::api::http {

namespace asio = boost::asio;
namespace http = boost::beast::http;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

namespace {

bool expects_continue(const RequestBody::Parser& parser) {
  std::string expect(parser.get()[http::field::expect]);
  for (auto& c : expect) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return expect == "100-continue";
}

}  // namespace

asio::awaitable<Result<std::size_t>> RequestBody::read_some(char* data, std::size_t size) {
  if (parser_.is_done()) co_return std::size_t{0};
  if (!continue_sent_ && expects_continue(parser_)) {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.expires_after(idle_timeout_);
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(kContinue), kNoThrow);
    if (ec) co_return make_error(ErrorCode::Unavailable, "the client went away: " + ec.message());
  }
  continue_sent_ = true;
  std::size_t got = 0;
  while (got == 0 && !parser_.is_done()) {
    parser_.get().body().data = data;
    parser_.get().body().size = size;
    stream_.expires_after(idle_timeout_);
    auto [ec, n] = co_await http::async_read(stream_, buffer_, parser_, kNoThrow);
    got = size - parser_.get().body().size;
    if (ec == http::error::need_buffer) continue;
    if (ec == http::error::body_limit) {
      too_large_ = true;
      co_return make_error(ErrorCode::InvalidArgument, "the request body is larger than the limit");
    }
    if (ec && ec.category() == make_error_code(http::error::bad_chunk).category() && ec != http::error::partial_message)
      co_return make_error(ErrorCode::InvalidArgument, "malformed request body: " + ec.message());
    if (ec) co_return make_error(ErrorCode::Unavailable, "the client stopped sending the body: " + ec.message());
  }
  co_return got;
}

}  // namespace steward::api::http
