#pragma once
// Maps a method and a path ("/jobs/:jid/events") to a handler. A last
// segment "*name" captures the rest of the path ("/files/*path": "a/b.txt").
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/http/exchange.hpp"
#include "api/http/route_roles.hpp"

namespace steward::api::http {

using Handler = std::function<boost::asio::awaitable<void>(Exchange&)>;

class Router {
 public:
  // Every route takes its role from `roles` (the server's table by default).
  explicit Router(std::span<const RouteRole> roles = route_roles()) : roles_(roles) {}

  // A second route with the same method and pattern (":name" captures
  // compare equal), or a route missing from the role table, is a wiring
  // mistake: throws std::logic_error naming it.
  void add(beast::http::verb verb, const std::string& pattern, Handler handler);
  // A route whose handler reads the request body itself, piece by piece
  // (Exchange::body), under HttpOptions::stream_body_limit: uploads.
  void add_streamed(beast::http::verb verb, const std::string& pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // null: no route
    bool path_known = false;           // the path exists under another method (405)
    std::string allowed;               // then its methods, for the Allow header: "GET, POST"
    std::string label;                 // "GET /jobs/:jid": the route, for diagnostics
    std::optional<auth::Role> role = auth::Role::Admin;  // what the caller needs; kPublic: no token
    std::map<std::string, std::string> captures;
    bool streams_body = false;  // the handler reads the body (add_streamed)
  };
  Match find(beast::http::verb verb, std::string_view path) const;
  // "GET /jobs/:jid", ... in the order they were added.
  std::vector<std::string> labels() const;

 private:
  struct Route {
    beast::http::verb verb;
    std::vector<std::string> segments;
    Handler handler;
    std::string label;
    std::optional<auth::Role> role;
    bool streams_body = false;
  };
  std::span<const RouteRole> roles_;
  void add_route(beast::http::verb verb, const std::string& pattern, Handler handler, bool streams_body);

  std::vector<Route> routes_;
};

}  // namespace steward::api::http
