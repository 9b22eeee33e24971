#pragma once
#include <string>

namespace steward {

// A job id in the Salt/EXEd style: YYYYMMDDhhmmssffffff (UTC, microseconds).
// Sortable by submission time and unique within one process: two ids made in
// the same microsecond are bumped apart.
std::string new_jid();

// Random hex from the kernel's CSPRNG; used for tokens.
std::string random_hex(std::size_t bytes);

}  // namespace steward
