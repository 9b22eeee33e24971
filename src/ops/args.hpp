#pragma once
// Typed access to an operation's JSON arguments with errors that name the field.
#include <boost/json/object.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace steward::ops {

Result<std::optional<std::string>> optional_string(const boost::json::object& args, const char* key);
Result<std::string> required_string(const boost::json::object& args, const char* key);
Result<std::optional<std::vector<std::string>>> optional_string_list(const boost::json::object& args,
                                                                     const char* key);
Result<std::map<std::string, std::string>> string_map(const boost::json::object& args, const char* key);
// JSON true/false, an integer, or a string as parse_flag (core/strings.hpp) reads it.
Result<bool> optional_bool(const boost::json::object& args, const char* key, bool fallback);
// Seconds as a JSON number (or numeric string, as query strings give); must be > 0.
Result<std::chrono::milliseconds> optional_seconds(const boost::json::object& args, const char* key,
                                                   std::chrono::milliseconds fallback);
Result<std::int64_t> required_int(const boost::json::object& args, const char* key);

}  // namespace steward::ops
