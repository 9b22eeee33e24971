#pragma once
// Query-string parameters, read the same way on every route; a bad value is
// InvalidArgument naming the parameter and what it accepts.
#include <cstdint>
#include <optional>

#include "core/result.hpp"

namespace steward::api::http {

class Exchange;

// False when absent; otherwise one of parse_flag's spellings (core/strings.hpp).
Result<bool> query_flag(const Exchange& exchange, const char* name);

// A whole number >= 0, or nullopt when absent.
Result<std::optional<std::int64_t>> query_count(const Exchange& exchange, const char* name);

}  // namespace steward::api::http
