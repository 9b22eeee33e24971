#pragma once
// The OpenAPI 3.1 document of the REST API (src/api/http/openapi.json),
// compiled into the binary by cmake/Embed.cmake: JSON text ending in a newline.
// tests/api/openapi_test.cpp checks that it lists exactly the routes of the
// role table (route_roles.cpp), which lists exactly the routes wired.
#include <string_view>

namespace steward::api::http {

std::string_view openapi_document();

}  // namespace steward::api::http
