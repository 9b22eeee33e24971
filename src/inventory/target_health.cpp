#include "inventory/target_health.hpp"

#include "inventory/inventory.hpp"

namespace steward::inventory {

void TargetHealth::record(const std::string& target, const OpResult& result, double when) {
  if (result.state == OpState::Skipped || result.state == OpState::Announce) return;
  if (!inventory_.find(target)) return;
  TargetSighting& sighting = sightings_[target];
  if (when < sighting.when) return;  // an older run finishing late says less than the newer one
  sighting.reachable = result.state != OpState::Unreachable;
  sighting.when = when;
  sighting.error = sighting.reachable ? std::string() : result.error;
}

std::optional<TargetSighting> TargetHealth::last(const std::string& target) const {
  auto it = sightings_.find(target);
  if (it == sightings_.end()) return std::nullopt;
  return it->second;
}

void TargetHealth::forget_missing() {
  std::erase_if(sightings_, [this](const auto& entry) { return inventory_.find(entry.first) == nullptr; });
}

}  // namespace steward::inventory
