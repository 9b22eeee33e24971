#include "api/http/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/url/parse.hpp>

#include "core/loop_watchdog.hpp"
#include "core/strings.hpp"

namespace steward::api::http {

namespace asio = boost::asio;
namespace http = beast::http;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;
// Named, not a literal: a temporary std::string in a co_await is what GCC 12 destroys twice (PR 99576).
const std::string kUnauthorized =
    "missing or wrong token (Authorization: Bearer TOKEN); clients that send none must connect from an address "
    "in --http-allow CIDR,...";

Result<tcp::endpoint> parse_endpoint(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return make_error(ErrorCode::InvalidArgument, "expected ADDR:PORT, got " + address);
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) return make_error(ErrorCode::InvalidArgument, "not an IP address: " + host);
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) return make_error(ErrorCode::InvalidArgument, "bad port in " + address);
  return tcp::endpoint(ip, static_cast<unsigned short>(port));
}

// Parameters keep their first value; keys and values arrive percent-decoded.
Result<std::pair<std::string, std::map<std::string, std::string>>> split_target(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return make_error(ErrorCode::InvalidArgument, "malformed request target");
  std::map<std::string, std::string> query;
  for (auto param : parsed->params()) query.emplace(param.key, param.has_value ? param.value : "");
  return std::pair{std::string(parsed->path()), std::move(query)};
}

// Garbage from the client (as opposed to it leaving or timing out) earns a 400.
bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == make_error_code(http::error::end_of_stream).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

std::string_view strip_version_prefix(std::string_view path) {
  if (path == "/v1") return "/";
  if (path.rfind("/v1/", 0) == 0) return path.substr(3);
  return path;
}

}  // namespace

HttpServer::HttpServer(asio::any_io_executor executor, const Router& router, HttpOptions options)
    : executor_(executor), router_(router), options_(std::move(options)), acceptor_(executor) {}

HttpServer::~HttpServer() = default;

Result<tcp::endpoint> HttpServer::listen(const std::string& address) {
  auto endpoint = parse_endpoint(address);
  if (!endpoint) return endpoint.error();
  boost::system::error_code ec;
  acceptor_.open(endpoint->protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(ErrorCode::Unavailable, "cannot listen on " + address + ": " + ec.message());
  return acceptor_.local_endpoint();
}

void HttpServer::start() {
  asio::co_spawn(executor_, accept_loop(), asio::detached);
}

void HttpServer::stop_accepting() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void HttpServer::close_all() {
  for (auto* stream : sessions_) {
    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->socket().close(ignored);
  }
}

asio::awaitable<void> HttpServer::accept_loop() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      spdlog::warn("accept failed: {}", ec.message());  // e.g. out of descriptors; keep serving
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(executor_, session(std::move(socket)), [](std::exception_ptr failure) {
      if (!failure) return;
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        spdlog::error("connection ended by an exception: {}", e.what());
      }
    });
  }
}

asio::awaitable<void> HttpServer::session(tcp::socket socket) {
  boost::system::error_code peer_error;
  auto peer = socket.remote_endpoint(peer_error);
  const bool trusted_peer = !peer_error && options_.allow.allows(peer.address().to_string());
  beast::tcp_stream stream(std::move(socket));
  sessions_.insert(&stream);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options_.body_limit);
    parser.header_limit(kHeaderLimit);
    stream.expires_after(options_.idle_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    if (ec) {
      if (ec == http::error::body_limit || ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        Request bare;
        Exchange exchange(stream, bare, {});
        co_await exchange.reply_error(http::status::payload_too_large,
                                      "request too large (limit " + std::to_string(options_.body_limit) + " bytes)");
      } else if (is_parse_error(ec)) {
        Request bare;
        Exchange exchange(stream, bare, {});
        co_await exchange.reply_error(http::status::bad_request, "malformed HTTP request: " + ec.message());
      }
      break;
    }
    Request request = parser.release();
    auto target = split_target(request.target());
    Exchange exchange(stream, request, target ? target->second : std::map<std::string, std::string>{});
    if (!target) {
      co_await exchange.reply_error(target.error());
    } else {
      co_await dispatch(exchange, strip_version_prefix(target->first), trusted_peer);
    }
    if (!exchange.keep_alive()) break;
  }
  sessions_.erase(&stream);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

bool HttpServer::authorized(const Request& request, bool trusted_peer) const {
  if (options_.token.empty() || trusted_peer) return true;
  auto header = request[http::field::authorization];
  const std::string expected = "Bearer " + options_.token;
  return constant_time_equal(header, expected);
}

asio::awaitable<void> HttpServer::dispatch(Exchange& exchange, std::string_view path, bool trusted_peer) {
  if (path != "/healthz" && !authorized(exchange.request(), trusted_peer)) {
    co_await exchange.reply_error(http::status::unauthorized, kUnauthorized);
    co_return;
  }
  auto match = router_.find(exchange.request().method(), path);
  if (!match.handler) {
    if (match.path_known) {
      co_await exchange.reply_error(http::status::method_not_allowed,
                                    std::string(exchange.request().method_string()) + " is not allowed on " +
                                        std::string(path));
    } else {
      co_await exchange.reply_error(http::status::not_found, "no such endpoint: " + std::string(path));
    }
    co_return;
  }
  exchange.captures = std::move(match.captures);
  note_loop_activity(std::move(match.label));  // named by the watchdog if the loop stalls
  std::string failure;
  try {
    co_await (*match.handler)(exchange);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!failure.empty()) {
    spdlog::error("{} {}: {}", std::string(exchange.request().method_string()), std::string(path), failure);
    if (!exchange.replied()) co_await exchange.reply_error(http::status::internal_server_error, "internal error");
  }
}

}  // namespace steward::api::http
