#pragma once
// Where the Redis store places a target's work (store/placement.hpp): the
// live servers as one read of P lease-expires saw them, and the owner of
// every slot over them. The rendezvous hash is computed here, in C++ (Lua in
// Redis has no 64-bit integers); the scripts that place runs by it first
// check that the live servers are still exactly these (live_as_read in
// redis_scripts.cpp), and change nothing when they are not, so the caller
// reads them again. A run is thus never placed with a server whose lease was
// released or taken over meanwhile, which no take-over would look at again.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "store/placement.hpp"
#include "store/redis/redis_reply.hpp"

namespace steward::store::redis {

class LiveServers {
 public:
  // From HGETALL P lease-expires: the servers whose lease expires at or
  // after `at`, and `self` (always live).
  static LiveServers from_expiries(const std::vector<Reply>& expiries, const std::string& self, double at);

  const std::string& self() const { return self_; }
  // Sorted, with self.
  const std::vector<std::string>& names() const { return names_; }
  // 1-based, in the order append_names gives the names.
  std::uint32_t owner_index(std::uint32_t slot) const { return owners_[slot]; }
  // ARGV: the count of live servers, then their names.
  void append_names(std::vector<std::string>& args) const;
  // ARGV: owner_index of every slot, comma-separated.
  std::string slot_map() const;

 private:
  std::string self_;
  std::vector<std::string> names_;  // sorted, with self_
  std::array<std::uint32_t, kSlots> owners_{};
};

}  // namespace steward::store::redis
