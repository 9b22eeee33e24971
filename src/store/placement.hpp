#pragma once
// Which server runs a target's work when several share one store (README
// "Servers and leases"). The target space is split into slots by a hash of
// the name; each slot belongs to one live server by rendezvous hashing, so
// every server computes the same map from the same list of live servers and
// a server that joins or dies moves only its own share of the slots.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace steward::store {

inline constexpr std::uint32_t kSlots = 256;

std::uint32_t slot_of(std::string_view target);

// The live server the slot hashes to; empty when `live` is.
std::string slot_owner(std::uint32_t slot, const std::vector<std::string>& live);

}  // namespace steward::store
