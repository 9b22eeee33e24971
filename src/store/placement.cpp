#include "store/placement.hpp"

namespace steward::store {
namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = kFnvOffset) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= kFnvPrime;
  }
  return hash;
}

// FNV-1a alone spreads short, similar names (server ids "a", "b") poorly in
// its high bits; the finaliser of splitmix64 mixes every input bit into all.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::uint32_t slot_of(std::string_view target) { return static_cast<std::uint32_t>(mix(fnv1a(target)) % kSlots); }

std::string slot_owner(std::uint32_t slot, const std::vector<std::string>& live) {
  const std::string* best = nullptr;
  std::uint64_t best_weight = 0;
  for (const auto& server : live) {
    const std::uint64_t weight = mix(fnv1a(server) ^ mix(slot + 1));
    // Ties (all but impossible) go to the smaller id, so every server agrees.
    if (!best || weight > best_weight || (weight == best_weight && server < *best)) {
      best = &server;
      best_weight = weight;
    }
  }
  return best ? *best : std::string();
}

}  // namespace steward::store
