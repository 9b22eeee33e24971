#include "api/http/router.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/strings.hpp"

namespace steward::api::http {
namespace {

bool is_rest(const std::string& segment) { return segment.starts_with('*'); }

bool match_segments(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                    std::map<std::string, std::string>& captures) {
  const bool rest = !pattern.empty() && is_rest(pattern.back());
  if (rest ? path.size() < pattern.size() : pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (rest && i + 1 == pattern.size()) {
      std::string joined;
      for (std::size_t j = i; j < path.size(); ++j) joined += (j == i ? "" : "/") + path[j];
      captures[pattern[i].substr(1)] = std::move(joined);
    } else if (!pattern[i].empty() && pattern[i][0] == ':') {
      captures[pattern[i].substr(1)] = path[i];
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(beast::http::verb verb, const std::string& pattern, Handler handler) {
  add_route(verb, pattern, std::move(handler), false);
}

void Router::add_streamed(beast::http::verb verb, const std::string& pattern, Handler handler) {
  add_route(verb, pattern, std::move(handler), true);
}

void Router::add_route(beast::http::verb verb, const std::string& pattern, Handler handler, bool streams_body) {
  auto segments = split_nonempty(pattern, '/');
  for (std::size_t i = 0; i + 1 < segments.size(); ++i)
    if (is_rest(segments[i])) throw std::logic_error("route " + pattern + ": a *capture must be the last segment");
  auto same_shape = [](const std::string& a, const std::string& b) {
    return a == b || (a.starts_with(':') && b.starts_with(':')) || (is_rest(a) && is_rest(b));
  };
  for (const auto& route : routes_) {
    if (route.verb == verb && std::equal(route.segments.begin(), route.segments.end(), segments.begin(),
                                         segments.end(), same_shape))
      throw std::logic_error("route " + std::string(beast::http::to_string(verb)) + " " + pattern +
                             " is registered twice");
  }
  std::string label = std::string(beast::http::to_string(verb)) + " " + pattern;
  auto role = std::find_if(roles_.begin(), roles_.end(),
                           [&](const RouteRole& entry) { return entry.verb == verb && entry.pattern == pattern; });
  if (role == roles_.end())
    throw std::logic_error("route " + label + " has no role: add it to the table in api/http/route_roles.cpp");
  routes_.push_back(Route{verb, std::move(segments), std::move(handler), std::move(label), role->role, streams_body});
}

std::vector<std::string> Router::labels() const {
  std::vector<std::string> labels;
  for (const auto& route : routes_) labels.push_back(route.label);
  return labels;
}

Router::Match Router::find(beast::http::verb verb, std::string_view path) const {
  Match match;
  auto segments = split_nonempty(path, '/');
  for (const auto& route : routes_) {
    std::map<std::string, std::string> captures;
    if (!match_segments(route.segments, segments, captures)) continue;
    // HEAD is answered like GET by clients that only probe.
    if (route.verb == verb || (verb == beast::http::verb::head && route.verb == beast::http::verb::get)) {
      match.handler = &route.handler;
      match.label = route.label;
      match.role = route.role;
      match.captures = std::move(captures);
      match.streams_body = route.streams_body;
      return match;
    }
    match.path_known = true;
    std::string method(beast::http::to_string(route.verb));
    if (match.allowed.find(method) == std::string::npos)
      match.allowed += (match.allowed.empty() ? "" : ", ") + method;
  }
  return match;
}

}  // namespace steward::api::http
