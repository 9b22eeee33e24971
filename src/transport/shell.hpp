#pragma once
// Building /bin/sh command lines for transports that run commands through a
// remote shell (ssh, qga).
#include <string>
#include <string_view>

namespace steward::transport {

// POSIX sh single-quoting: any byte string becomes one word.
std::string shell_quote(std::string_view text);

// Whether `name` can be exported as an environment variable by sh.
bool is_shell_identifier(std::string_view name);

}  // namespace steward::transport
