#include "inventory/target_health.hpp"

#include "inventory/inventory.hpp"

namespace steward::inventory {
namespace {

bool says_something_new(const TargetSighting& seen, const std::optional<TargetSighting>& shared) {
  return !shared || seen.reachable != shared->reachable || seen.error != shared->error ||
         seen.when - shared->when >= TargetHealth::kShareAgeSeconds;
}

}  // namespace

void TargetHealth::record(const std::string& target, const OpResult& result, double when) {
  if (result.state == OpState::Skipped || result.state == OpState::Announce) return;
  if (!inventory_.find(target)) return;
  Entry& entry = entries_[target];
  if (when < entry.seen.when) return;  // an older run finishing late says less than the newer one
  entry.seen.reachable = result.state != OpState::Unreachable;
  entry.seen.when = when;
  entry.seen.error = entry.seen.reachable ? std::string() : result.error;
  entry.due = says_something_new(entry.seen, entry.shared);
}

std::optional<TargetSighting> TargetHealth::last(const std::string& target) const {
  auto it = entries_.find(target);
  if (it == entries_.end()) return std::nullopt;
  return it->second.seen;
}

void TargetHealth::forget_missing() {
  std::erase_if(entries_, [this](const auto& entry) { return inventory_.find(entry.first) == nullptr; });
}

std::vector<std::pair<std::string, TargetSighting>> TargetHealth::unshared() const {
  std::vector<std::pair<std::string, TargetSighting>> due;
  for (const auto& [target, entry] : entries_) {
    if (entry.due) due.emplace_back(target, entry.seen);
  }
  return due;
}

void TargetHealth::mark_shared(const std::string& target, const TargetSighting& sighting) {
  auto it = entries_.find(target);
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  entry.shared = sighting;
  // A newer sighting recorded while this one was written may still be due.
  entry.due = says_something_new(entry.seen, entry.shared);
}

void TargetHealth::merge(const std::string& target, const TargetSighting& sighting) {
  if (!inventory_.find(target)) return;
  Entry& entry = entries_[target];
  if (sighting.when <= entry.seen.when) return;
  entry.seen = sighting;
  entry.shared = sighting;
  entry.due = false;
}

}  // namespace steward::inventory
