#pragma once
// The REST listener: one coroutine per connection on the event loop,
// keep-alive, a body limit, idle and header timeouts, a connection limit,
// bearer-token auth with each route's role (api/http/route_roles.cpp), and
// the /v1 prefix folded onto the same routes.
//
// At the connection limit the server closes the connection that has waited
// longest for its next request (an idle keep-alive or a slow client) to make
// room for the new one; when every connection is busy (running a request or
// streaming), it stops accepting until one ends, and new clients wait in the
// kernel's listen backlog. Accept failures for lack of descriptors or memory
// back off (50 ms doubling to 1 s) instead of spinning.
//
// With TLS, each connection's handshake must end within the header timeout
// (a connection in its handshake counts as waiting for its client, so it is
// the first closed at the limit); a client speaking plain HTTP to it gets a
// 400 saying to use https:// and the connection is closed.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "api/http/router.hpp"
#include "core/allow_list.hpp"
#include "core/result.hpp"

namespace boost::asio::ssl {
class context;
}
namespace steward::api::auth { class TokenRegistry; }
namespace steward::api::audit { class AuditLog; }

namespace steward::api::http {

class HttpMetrics;

struct HttpOptions {
  auth::TokenRegistry* tokens = nullptr;  // null: no authentication (everyone is admin)
  AllowList allow;  // clients from these addresses need no token, and get the operate role
  std::size_t body_limit = 1u << 20;
  std::uint64_t stream_body_limit = 4ull << 30;  // on streamed routes (uploads: PUT /files/...)
  std::chrono::seconds idle_timeout{60};    // waiting for a request (or its body)
  std::chrono::seconds header_timeout{10};  // from a request's first byte to its last header line
  std::size_t max_connections = 768;
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain HTTP
  HttpMetrics* metrics = nullptr;                  // null: requests are not counted
  audit::AuditLog* audit = nullptr;                // null: no audit trail
};

class HttpServer {
 public:
  HttpServer(boost::asio::any_io_executor executor, const Router& router, HttpOptions options);
  ~HttpServer();

  // Binds "ADDR:PORT" (port 0 picks one); returns the bound endpoint.
  Result<boost::asio::ip::tcp::endpoint> listen(const std::string& address);
  void start();
  void stop_accepting();
  // Closes every open connection (after stop_accepting, at shutdown).
  void close_all();
  std::size_t open_connections() const { return connections_.size(); }

 private:
  struct Connection;

  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> wait_for_room();
  void make_room();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<bool> start_tls(Connection& connection);
  void set_idle(Connection& connection, bool idle);
  // One request whose header `head` has read; false when the connection must close.
  boost::asio::awaitable<bool> serve_request(HttpStream& stream, beast::flat_buffer& buffer,
                                             beast::http::request_parser<beast::http::empty_body>& head,
                                             const std::string& peer_address, const std::string& allowed_peer);
  boost::asio::awaitable<bool> serve_streamed(HttpStream& stream, beast::flat_buffer& buffer,
                                              beast::http::request_parser<beast::http::empty_body>& head,
                                              Router::Match& match, const std::string& path,
                                              std::map<std::string, std::string>& query,
                                              const std::string& peer_address, const std::string& allowed_peer);
  boost::asio::awaitable<void> dispatch(Exchange& exchange, std::string_view path, Router::Match& match,
                                        const std::string& allowed_peer);
  // Nullopt: 401. `allowed_peer`: the client's address if --http-allow lets it in, else empty.
  std::optional<auth::Caller> identify(const Request& request, const std::string& allowed_peer) const;

  boost::asio::any_io_executor executor_;
  const Router& router_;
  HttpOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::set<Connection*> connections_;
  std::list<Connection*> idle_;  // waiting for their next request, longest first
  boost::asio::steady_timer room_;  // woken when a connection ends or turns idle
};

}  // namespace steward::api::http
