#pragma once
// What the last finished run on each inventory host says about reaching it
// (GET /targets?detail=1): reachable unless it ended Unreachable, when, and
// that run's error. One entry per host the inventory knows, so it stays as
// small as the inventory. Loop only, like the inventory.
//
// Servers on one store share what they saw (inventory/shared_health.hpp):
// a sighting is due to be shared when it says something new (the host's
// reachability or error changed) or its last share is kShareAgeSeconds old,
// so a host pinged every second costs a store write twice a minute, not
// every second; what others shared is merged in when it is newer.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/model.hpp"

namespace steward::inventory {

class Inventory;

struct TargetSighting {
  bool reachable = false;
  double when = 0;            // unix seconds the run finished
  std::string error;          // the unreachable run's error; empty when reachable
};

class TargetHealth {
 public:
  static constexpr double kShareAgeSeconds = 30;

  explicit TargetHealth(const Inventory& inventory) : inventory_(inventory) {}

  // A run on `target` finished with `result` at `when`. Skipped and
  // Announce runs reached nothing and say nothing; nor does a host the
  // inventory does not hold (a pattern's leftover, a removed callback).
  void record(const std::string& target, const OpResult& result, double when);
  std::optional<TargetSighting> last(const std::string& target) const;
  // Drops hosts that left the inventory (callback targets removed).
  void forget_missing();

  // The sightings due to be shared, by host; each stays due until
  // mark_shared() says the store has it.
  std::vector<std::pair<std::string, TargetSighting>> unshared() const;
  void mark_shared(const std::string& target, const TargetSighting& sighting);
  // A sighting another server (or an earlier life of this one) shared: kept
  // when it is newer than ours and the host is in the inventory.
  void merge(const std::string& target, const TargetSighting& sighting);

 private:
  struct Entry {
    TargetSighting seen;
    std::optional<TargetSighting> shared;  // as last shared or merged
    bool due = false;
  };
  const Inventory& inventory_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace steward::inventory
