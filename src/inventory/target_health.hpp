#pragma once
// What the last finished run on each inventory host says about reaching it
// (GET /targets?detail=1): reachable unless it ended Unreachable, when, and
// that run's error. One entry per host the inventory knows, so it stays as
// small as the inventory. Loop only, like the inventory.
#include <map>
#include <optional>
#include <string>

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
  explicit TargetHealth(const Inventory& inventory) : inventory_(inventory) {}

  // A run on `target` finished with `result` at `when`. Skipped and
  // Announce runs reached nothing and say nothing; nor does a host the
  // inventory does not hold (a pattern's leftover, a removed callback).
  void record(const std::string& target, const OpResult& result, double when);
  std::optional<TargetSighting> last(const std::string& target) const;
  // Drops hosts that left the inventory (callback targets removed).
  void forget_missing();

 private:
  const Inventory& inventory_;
  std::map<std::string, TargetSighting, std::less<>> sightings_;
};

}  // namespace steward::inventory
