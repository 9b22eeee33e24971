#pragma once
// Optional string fields of JSON objects, as stored records and replies carry them.
#include <boost/json/object.hpp>

#include <string>

namespace steward {

// The string at `key`, or "" when it is absent or not a string.
std::string text_of(const boost::json::object& object, const char* key);

}  // namespace steward
