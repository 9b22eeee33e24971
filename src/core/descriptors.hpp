#pragma once
#include <cstdint>

namespace steward {

// Raises the soft descriptor limit to the hard one (systemd's soft default
// is 1024, and every connection holds one); returns the limit in force.
std::uint64_t raise_descriptor_limit();

// The soft descriptor limit in force (an unlimited one as the kernel's
// fs.nr_open), without changing or logging it.
std::uint64_t descriptor_limit();

}  // namespace steward
