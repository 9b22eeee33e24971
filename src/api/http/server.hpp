#pragma once
// The REST listener: one coroutine per connection on the event loop,
// keep-alive, a body limit, idle timeouts, bearer-token auth, and the /v1
// prefix folded onto the same routes.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "api/http/router.hpp"
#include "core/allow_list.hpp"
#include "core/result.hpp"

namespace steward::api::http {

struct HttpOptions {
  std::string token;  // empty: no authentication
  AllowList allow;    // clients from these addresses need no token
  std::size_t body_limit = 1u << 20;
  std::chrono::seconds idle_timeout{60};
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
  std::size_t open_connections() const { return sessions_.size(); }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> dispatch(Exchange& exchange, std::string_view path, bool trusted_peer);
  bool authorized(const Request& request, bool trusted_peer) const;

  boost::asio::any_io_executor executor_;
  const Router& router_;
  HttpOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::set<beast::tcp_stream*> sessions_;
};

}  // namespace steward::api::http
