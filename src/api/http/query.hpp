#pragma once
// Query-string parameters, read the same way on every route; a bad value is
// InvalidArgument naming the parameter and what it accepts.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.hpp"

namespace steward::api::http {

class Exchange;

// The request target's path and query parameters: a parameter keeps its first
// value; keys and values arrive percent-decoded. InvalidArgument when malformed.
Result<std::pair<std::string, std::map<std::string, std::string>>> split_target(std::string_view target);

// What query_flag / query_count make of a parameter's value (nullopt: absent).
Result<bool> flag_value(const char* name, const std::optional<std::string>& value);
Result<std::optional<std::int64_t>> count_value(const char* name, const std::optional<std::string>& value);

// False when absent; otherwise one of parse_flag's spellings (core/strings.hpp).
Result<bool> query_flag(const Exchange& exchange, const char* name);

// A whole number >= 0, or nullopt when absent.
Result<std::optional<std::int64_t>> query_count(const Exchange& exchange, const char* name);

}  // namespace steward::api::http
