#pragma once
#include <string>

namespace steward {

// A job id: a hyphenated, time-ordered UUID (version 7, RFC 9562). Ranger
// parses condition ids as UUIDs and EXEd's jids are UUIDs. The 12 bits after
// the millisecond timestamp count within a millisecond, so ids made by one
// process sort in the order they were made.
std::string new_jid();

// Random hex from the kernel's CSPRNG; used for tokens.
std::string random_hex(std::size_t bytes);

}  // namespace steward
