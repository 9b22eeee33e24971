#include "api/http/server.hpp"

#include "api/http/http_metrics.hpp"
#include "api/http/http_audit.hpp"
#include "api/http/dashboard.hpp"
#include "api/audit/audit_log.hpp"

#include <spdlog/spdlog.h>

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/errc.hpp>

#include "api/auth/token_registry.hpp"
#include "api/http/http_stream.hpp"
#include "api/http/query.hpp"
#include "api/http/request_body.hpp"
#include "core/clock.hpp"
#include "core/listen_address.hpp"
#include "core/loop_watchdog.hpp"
#include "core/spawn.hpp"
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
constexpr std::size_t kFirstRead = 4096;
// How long a closing TLS connection waits for the client's close_notify.
constexpr std::chrono::seconds kTlsCloseTimeout{2};
// Answering plain HTTP on the TLS port: the write, then reading what the
// client still sends (so closing does not reset the connection before the
// client reads the answer).
constexpr std::chrono::seconds kPlainRefusalTimeout{2};
constexpr std::size_t kPlainRefusalDrain = 64 * 1024;

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

void close_socket(HttpStream& stream) {
  boost::system::error_code ignored;
  stream.tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.tcp().socket().close(ignored);
}

// A plain HTTP request on the TLS port: a 400 in plain HTTP naming the fix.
asio::awaitable<void> refuse_plain_http(HttpStream& stream) {
  Response response{http::status::bad_request, 11};
  response.set(http::field::content_type, "application/json");
  response.set(http::field::server, "steward/" STEWARD_VERSION);
  response.keep_alive(false);
  response.body() = R"({"message": "this port serves HTTPS (TLS): use an https:// URL"})" "\n";
  response.prepare_payload();
  auto& tcp_stream = stream.tcp();
  tcp_stream.expires_after(kPlainRefusalTimeout);
  auto [write_error, written] = co_await http::async_write(tcp_stream, response, kNoThrow);
  if (write_error) co_return;
  boost::system::error_code ignored;
  tcp_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  std::array<char, 4096> sink;
  for (std::size_t drained = 0; drained < kPlainRefusalDrain;) {
    auto [read_error, n] = co_await tcp_stream.async_read_some(asio::buffer(sink), kNoThrow);
    if (read_error) break;
    drained += n;
  }
}

// Waits for the first byte of the next request (unless the buffer holds
// some already); an idle keep-alive connection may wait `idle_timeout`.
asio::awaitable<boost::system::error_code> await_request_start(HttpStream& stream, beast::flat_buffer& buffer,
                                                              std::chrono::seconds idle_timeout) {
  if (buffer.size() > 0) co_return boost::system::error_code{};
  stream.expires_after(idle_timeout);
  auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kFirstRead), kNoThrow);
  buffer.commit(n);
  co_return ec;
}

// The request line and headers must arrive within `header_timeout` of the
// first byte, so a client trickling them in cannot hold a connection; the
// body then gets the idle timeout. The body is read once the route is
// known: whole, or by a streamed route's handler.
asio::awaitable<boost::system::error_code> read_head(HttpStream& stream, beast::flat_buffer& buffer,
                                                    http::request_parser<http::empty_body>& head,
                                                    const HttpOptions& options) {
  stream.expires_after(options.header_timeout);
  auto [ec, n] = co_await http::async_read_header(stream, buffer, head, kNoThrow);
  co_return ec;
}

asio::awaitable<boost::system::error_code> read_body(HttpStream& stream, beast::flat_buffer& buffer,
                                                    http::request_parser<http::string_body>& parser,
                                                    const HttpOptions& options) {
  if (parser.is_done()) co_return boost::system::error_code{};
  stream.expires_after(options.idle_timeout);
  auto [ec, n] = co_await http::async_read(stream, buffer, parser, kNoThrow);
  co_return ec;
}

bool over_limit(const boost::optional<std::uint64_t>& content_length, std::uint64_t limit) {
  return content_length && *content_length > limit;
}

// A request that could not be read: 413 when too large, 400 when malformed,
// nothing when the client left or timed out.
asio::awaitable<void> reply_unreadable(HttpStream& stream, const boost::system::error_code& ec, std::uint64_t limit) {
  Request bare;
  Exchange exchange(stream, bare, {});
  if (ec == http::error::body_limit || ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    const std::string message = "request too large (limit " + std::to_string(limit) + " bytes)";
    co_await exchange.reply_error(http::status::payload_too_large, message);
  } else if (is_parse_error(ec)) {
    const std::string message = "malformed HTTP request: " + ec.message();
    co_await exchange.reply_error(http::status::bad_request, message);
  }
}

bool out_of_resources(const boost::system::error_code& ec) {
  using boost::system::errc::errc_t;
  return ec == errc_t::too_many_files_open || ec == errc_t::too_many_files_open_in_system ||
         ec == errc_t::no_buffer_space || ec == errc_t::not_enough_memory;
}

// Accept failures: out of descriptors or memory, wait 50 ms doubling to 1 s
// before the next try (retrying at once spins a core); log the first failure,
// then at most one line per kLogPeriod with the count of the others.
class AcceptFailures {
 public:
  std::chrono::milliseconds failed(const boost::system::error_code& ec) {
    ++since_success_;
    ++unlogged_;
    const auto now = std::chrono::steady_clock::now();
    if (since_success_ == 1 || now - last_log_ >= kLogPeriod) {
      spdlog::warn("accepting an HTTP connection failed: {} ({} failures since the last success; retrying)",
                   ec.message(), unlogged_);
      unlogged_ = 0;
      last_log_ = now;
    }
    if (!out_of_resources(ec)) return std::chrono::milliseconds(0);
    delay_ = delay_.count() == 0 ? kFirstDelay : std::min(delay_ * 2, kMaxDelay);
    return delay_;
  }

  void succeeded() {
    if (since_success_ > 1) spdlog::info("accepting HTTP connections again after {} failures", since_success_);
    since_success_ = 0;
    unlogged_ = 0;
    delay_ = std::chrono::milliseconds(0);
  }

 private:
  static constexpr std::chrono::milliseconds kFirstDelay{50};
  static constexpr std::chrono::milliseconds kMaxDelay{1000};
  static constexpr std::chrono::seconds kLogPeriod{10};
  std::chrono::milliseconds delay_{0};
  std::chrono::steady_clock::time_point last_log_{};
  std::uint64_t since_success_ = 0;
  std::uint64_t unlogged_ = 0;
};

}  // namespace

struct HttpServer::Connection {
  Connection(tcp::socket socket, asio::ssl::context* tls)
      : stream(tls ? HttpStream(std::move(socket), *tls) : HttpStream(std::move(socket))) {}
  HttpStream stream;
  std::list<Connection*>::iterator idle_entry;
  bool idle = false;
};

HttpServer::HttpServer(asio::any_io_executor executor, const Router& router, HttpOptions options)
    : executor_(executor), router_(router), options_(std::move(options)), acceptor_(executor), room_(executor) {}

HttpServer::~HttpServer() = default;

Result<tcp::endpoint> HttpServer::listen(const std::string& address) {
  auto endpoint = parse_listen_address(address);
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
  asio::co_spawn(executor_, accept_loop(), log_failure("the REST accept loop"));
}

void HttpServer::stop_accepting() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  room_.cancel();
}

void HttpServer::close_all() {
  for (auto* connection : connections_) close_socket(connection->stream);
}

asio::awaitable<void> HttpServer::accept_loop() {
  AcceptFailures failures;
  asio::steady_timer pause(executor_);
  while (acceptor_.is_open()) {
    co_await wait_for_room();
    if (!acceptor_.is_open()) break;
    auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      pause.expires_after(failures.failed(ec));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    failures.succeeded();
    make_room();
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(executor_, session(std::move(socket)), log_failure("an HTTP connection"));
  }
}

// At the limit with every connection busy, new clients wait in the listen
// backlog rather than being accepted and dropped.
asio::awaitable<void> HttpServer::wait_for_room() {
  while (acceptor_.is_open() && connections_.size() >= options_.max_connections && idle_.empty()) {
    spdlog::debug("{} HTTP connections, all busy: accepting again when one ends", connections_.size());
    room_.expires_at(asio::steady_timer::time_point::max());
    co_await room_.async_wait(kNoThrow);
  }
}

// Closes the connection that has waited longest for a request. It leaves
// the set now; its coroutine ends on the closed socket.
void HttpServer::make_room() {
  if (connections_.size() < options_.max_connections || idle_.empty()) return;
  Connection* oldest = idle_.front();
  set_idle(*oldest, false);
  connections_.erase(oldest);
  close_socket(oldest->stream);
  spdlog::debug("at the limit of {} HTTP connections: closed the longest idle one", options_.max_connections);
}

void HttpServer::set_idle(Connection& connection, bool idle) {
  if (idle == connection.idle) return;
  connection.idle = idle;
  if (idle) {
    connection.idle_entry = idle_.insert(idle_.end(), &connection);
    room_.cancel();
  } else {
    idle_.erase(connection.idle_entry);
  }
}

asio::awaitable<void> HttpServer::session(tcp::socket socket) {
  boost::system::error_code peer_error;
  auto peer = socket.remote_endpoint(peer_error);
  const std::string peer_address = peer_error ? std::string() : peer.address().to_string();
  const std::string allowed_peer = !peer_error && options_.allow.allows(peer_address) ? peer_address : "";
  Connection connection(std::move(socket), options_.tls.get());
  auto& stream = connection.stream;
  connections_.insert(&connection);
  beast::flat_buffer buffer;
  const bool ready = co_await start_tls(connection);
  while (ready) {
    http::request_parser<http::empty_body> head;
    head.header_limit(kHeaderLimit);
    head.body_limit(boost::none);  // the route's limit applies once the route is known
    set_idle(connection, true);
    auto ec = co_await await_request_start(stream, buffer, options_.idle_timeout);
    set_idle(connection, false);
    if (!ec) ec = co_await read_head(stream, buffer, head, options_);
    if (ec) {
      co_await reply_unreadable(stream, ec, options_.body_limit);
      break;
    }
    const bool keep_alive = co_await serve_request(stream, buffer, head, peer_address, allowed_peer);
    if (!keep_alive) break;
  }
  set_idle(connection, false);
  connections_.erase(&connection);
  room_.cancel();
  if (ready) co_await stream.stop_tls(kTlsCloseTimeout);
  boost::system::error_code ignored;
  stream.tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Plain connections are ready at once. A TLS one waits for its client like
// an idle one (the first closed at the limit), within the header timeout.
asio::awaitable<bool> HttpServer::start_tls(Connection& connection) {
  if (!connection.stream.is_tls()) co_return true;
  set_idle(connection, true);
  const auto started = co_await connection.stream.start_tls(options_.header_timeout);
  set_idle(connection, false);
  if (started == HttpStream::TlsStart::NotTls) co_await refuse_plain_http(connection.stream);
  co_return started == HttpStream::TlsStart::Ready;
}

// A token that names a caller wins (an admin from an allow-listed address
// stays admin); allow-listed clients without one, or with a wrong one as
// before roles existed, get operate: what Ranger and EXEd clients need.
std::optional<auth::Caller> HttpServer::identify(const Request& request, const std::string& allowed_peer) const {
  if (!options_.tokens) return auth::Caller{"anyone (--no-auth)", auth::Role::Admin, false};
  if (auto header = request[http::field::authorization]; !header.empty()) {
    if (auto caller = options_.tokens->authenticate(header)) return caller;
  }
  if (!allowed_peer.empty()) return auth::Caller{"client " + allowed_peer + " from --http-allow", auth::Role::Operate, false};
  return std::nullopt;
}

asio::awaitable<bool> HttpServer::serve_request(HttpStream& stream, beast::flat_buffer& buffer,
                                                http::request_parser<http::empty_body>& head,
                                                const std::string& peer_address, const std::string& allowed_peer) {
  auto target = split_target(head.get().target());
  const std::string path = target ? std::string(strip_version_prefix(target->first)) : std::string();
  Router::Match match;
  if (target) match = router_.find(head.get().method(), path);
  std::map<std::string, std::string> query;
  if (target) query = std::move(target->second);
  if (match.streams_body)
    co_return co_await serve_streamed(stream, buffer, head, match, path, query, peer_address, allowed_peer);

  http::request_parser<http::string_body> parser{std::move(head)};
  boost::system::error_code ec;
  if (over_limit(parser.content_length(), options_.body_limit)) ec = http::error::body_limit;
  parser.body_limit(options_.body_limit);  // chunked bodies are counted as they come
  if (!ec) ec = co_await read_body(stream, buffer, parser, options_);
  if (ec) {
    co_await reply_unreadable(stream, ec, options_.body_limit);
    co_return false;
  }
  Request request = parser.release();
  Exchange exchange(stream, request, std::move(query));
  exchange.peer = peer_address;
  if (!target) co_await exchange.reply_error(target.error());
  else co_await dispatch(exchange, path, match, allowed_peer);
  co_return exchange.keep_alive();
}

// The handler reads the body (Exchange::body); one it did not read to the
// end (refused, failed) closes the connection after the reply.
asio::awaitable<bool> HttpServer::serve_streamed(HttpStream& stream, beast::flat_buffer& buffer,
                                                 http::request_parser<http::empty_body>& head, Router::Match& match,
                                                 const std::string& path, std::map<std::string, std::string>& query,
                                                 const std::string& peer_address, const std::string& allowed_peer) {
  RequestBody::Parser parser{std::move(head)};
  Request request{http::request_header<>(parser.get().base())};
  Exchange exchange(stream, request, std::move(query));
  exchange.peer = peer_address;
  if (over_limit(parser.content_length(), options_.stream_body_limit)) {
    const std::string message = "request too large (limit " + std::to_string(options_.stream_body_limit) + " bytes)";
    co_await exchange.reply_error(http::status::payload_too_large, message);
    co_return false;
  }
  parser.body_limit(options_.stream_body_limit);
  RequestBody body(stream, buffer, parser, options_.idle_timeout);
  exchange.body = &body;
  co_await dispatch(exchange, path, match, allowed_peer);
  co_return exchange.keep_alive();
}

namespace {

// Counts the request once its handling ends, however it ends.
struct Observed {
  HttpMetrics* metrics;
  const Exchange& exchange;
  std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
  ~Observed() {
    if (metrics)
      metrics->observe(exchange.route, exchange.status(),
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count());
  }
};

// Records a state-changing request once its handling ends, however it ends.
struct AuditedAtEnd {
  audit::AuditLog* log;
  const Exchange& exchange;
  std::string_view path;
  bool audited;
  ~AuditedAtEnd() {
    if (log && audited) log->record(audit_entry(exchange, path, unix_now()));
  }
};

}  // namespace

asio::awaitable<void> HttpServer::dispatch(Exchange& exchange, std::string_view path, Router::Match& match,
                                           const std::string& allowed_peer) {
  exchange.route = match.label;
  // The dashboard's page holds no secret: a browser opening "/" needs no token.
  if (match.label == "GET /" && prefers_html(exchange.request()[http::field::accept])) match.role = kPublic;
  Observed observed{options_.metrics, exchange};
  AuditedAtEnd recorded{options_.audit, exchange, path,
                        audited(exchange.request().method(), match.role, match.handler != nullptr)};
  if (!match.handler || match.role) {
    auto caller = identify(exchange.request(), allowed_peer);
    if (!caller) {
      co_await exchange.reply_error(http::status::unauthorized, kUnauthorized);
      co_return;
    }
    exchange.caller = std::move(*caller);
  }
  spdlog::debug("{} {} by {}", std::string(exchange.request().method_string()), std::string(path),
                exchange.caller.name);
  if (!match.handler) {
    // Messages built before the co_await (GCC 12, PR 99576).
    if (match.path_known) {
      const std::string message = std::string(exchange.request().method_string()) + " is not allowed on " +
                                  std::string(path) + " (allowed: " + match.allowed + ")";
      exchange.set_header(http::field::allow, match.allowed);  // RFC 9110: a 405 names what is allowed
      co_await exchange.reply_error(http::status::method_not_allowed, message);
    } else {
      const std::string message = "no such endpoint: " + std::string(path);
      co_await exchange.reply_error(http::status::not_found, message);
    }
    co_return;
  }
  if (match.role && !auth::grants(exchange.caller.role, *match.role)) {
    const std::string message = auth::denial_message(match.label, *match.role, exchange.caller);
    spdlog::info("refused: {}", message);
    co_await exchange.reply_error(http::status::forbidden, message);
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
    spdlog::error("{} {} by {}: {}", std::string(exchange.request().method_string()), std::string(path),
                  exchange.caller.name, failure);
    if (!exchange.replied()) co_await exchange.reply_error(http::status::internal_server_error, "internal error");
  }
}

}  // namespace steward::api::http
