// The embedded OpenAPI document lists exactly the routes of the role table,
// each with its role, its path parameters and the errors every route can
// answer, and every $ref in it resolves. route_roles_test.cpp checks that
// the role table lists exactly the routes the server wires, so together the
// document cannot miss a route or keep one that is gone.
#include <gtest/gtest.h>

#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <set>
#include <string>

#include "api/auth/role.hpp"
#include "api/http/openapi_document.hpp"
#include "api/http/route_roles.hpp"
#include "core/strings.hpp"

namespace steward::api::http {
namespace {

constexpr const char* kMethods[] = {"get", "put", "post", "delete", "patch", "head", "options"};

const boost::json::object& document() {
  static const boost::json::value parsed = boost::json::parse(openapi_document());
  return parsed.as_object();
}

// "/jobs/:jid" and "/files/*path" are "/jobs/{jid}" and "/files/{path}" in OpenAPI.
std::string openapi_path(std::string_view pattern) {
  std::string out;
  for (const auto& segment : split_nonempty(pattern, '/')) {
    const bool capture = segment.starts_with(':') || segment.starts_with('*');
    out += "/" + (capture ? "{" + segment.substr(1) + "}" : segment);
  }
  return out.empty() ? "/" : out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string label(const RouteRole& route) {
  return lower(boost::beast::http::to_string(route.verb)) + " " + openapi_path(route.pattern);
}

const boost::json::object* operation_of(const RouteRole& route) {
  const auto* item = document().at("paths").as_object().if_contains(openapi_path(route.pattern));
  if (!item) return nullptr;
  const auto* operation = item->as_object().if_contains(lower(boost::beast::http::to_string(route.verb)));
  return operation ? &operation->as_object() : nullptr;
}

// What "#/components/schemas/Job" names in the document; null if nothing.
const boost::json::value* lookup(std::string_view ref) {
  if (!ref.starts_with("#/")) return nullptr;
  const boost::json::value* at = nullptr;
  const boost::json::object* object = &document();
  for (const auto& key : split_nonempty(ref.substr(2), '/')) {
    if (!object || !(at = object->if_contains(key))) return nullptr;
    object = at->if_object();
  }
  return at;
}

// A parameter written in place, or the one its $ref names.
const boost::json::object& resolved(const boost::json::value& value) {
  const auto* ref = value.as_object().if_contains("$ref");
  return ref ? lookup(ref->as_string())->as_object() : value.as_object();
}

std::string role_name(const std::optional<auth::Role>& role) {
  return role ? std::string(auth::to_string(*role)) : "public";
}

TEST(OpenApi, IsAnOpenApi31Document) {
  EXPECT_EQ(document().at("openapi").as_string(), "3.1.0");
  EXPECT_TRUE(openapi_document().ends_with("\n"));
}

TEST(OpenApi, ListsEveryRouteAndNoOther) {
  std::set<std::string> routes;
  for (const auto& route : route_roles()) {
    routes.insert(label(route));
    EXPECT_NE(operation_of(route), nullptr) << label(route) << " is missing from src/api/http/openapi.json";
  }
  for (const auto& [path, item] : document().at("paths").as_object()) {
    for (const char* method : kMethods) {
      const std::string documented = std::string(method) + " " + std::string(path);
      if (item.as_object().contains(method)) {
        EXPECT_TRUE(routes.contains(documented)) << documented << " is documented but the server has no such route";
      }
    }
  }
}

TEST(OpenApi, EachOperationStatesItsRoleAndItsAuthErrors) {
  for (const auto& route : route_roles()) {
    const auto* operation = operation_of(route);
    if (!operation) continue;  // reported by ListsEveryRouteAndNoOther
    const auto* role = operation->if_contains("x-steward-role");
    ASSERT_TRUE(role && role->is_string()) << label(route);
    EXPECT_EQ(role->as_string(), role_name(route.role)) << label(route);
    const auto& responses = operation->at("responses").as_object();
    if (route.role) {
      EXPECT_TRUE(responses.contains("401") && responses.contains("403")) << label(route) << ": needs a token";
    } else {
      const auto* security = operation->if_contains("security");
      EXPECT_TRUE(security && security->as_array().empty()) << label(route) << ": public, so \"security\": []";
    }
  }
}

TEST(OpenApi, PathParametersMatchTheCaptures) {
  for (const auto& route : route_roles()) {
    const auto* operation = operation_of(route);
    if (!operation) continue;
    std::set<std::string> captures;
    std::set<std::string> rest_of_path;
    for (const auto& segment : split_nonempty(route.pattern, '/')) {
      if (segment.starts_with(':')) captures.insert(segment.substr(1));
      if (segment.starts_with('*')) rest_of_path.insert(segment.substr(1));
    }
    std::set<std::string> documented;
    std::set<std::string> multi_segment;
    if (const auto* parameters = operation->if_contains("parameters")) {
      for (const auto& parameter : parameters->as_array()) {
        const auto& object = resolved(parameter);
        if (object.at("in").as_string() != "path") continue;
        const std::string name(object.at("name").as_string());
        documented.insert(name);
        if (const auto* multi = object.if_contains("x-multi-segment"); multi && multi->as_bool())
          multi_segment.insert(name);
      }
    }
    captures.insert(rest_of_path.begin(), rest_of_path.end());
    EXPECT_EQ(documented, captures) << label(route);
    EXPECT_EQ(multi_segment, rest_of_path) << label(route) << ": a *capture holds slashes (x-multi-segment)";
  }
}

void expect_refs_resolve(const boost::json::value& value, int& refs) {
  if (const auto* object = value.if_object()) {
    for (const auto& [key, child] : *object) {
      if (key == "$ref") {
        ++refs;
        EXPECT_TRUE(child.is_string() && lookup(child.as_string())) << "unresolved $ref " << child;
      }
      expect_refs_resolve(child, refs);
    }
  } else if (const auto* array = value.if_array()) {
    for (const auto& child : *array) expect_refs_resolve(child, refs);
  }
}

TEST(OpenApi, EveryRefResolves) {
  int refs = 0;
  expect_refs_resolve(document(), refs);
  EXPECT_GT(refs, 100);
}

}  // namespace
}  // namespace steward::api::http
