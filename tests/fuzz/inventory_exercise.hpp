#pragma once
// What the server asks of a loaded inventory: targets, patterns, vm ids.
#include "inventory/inventory.hpp"

namespace steward::fuzz {

inline void exercise(const inventory::Inventory& inventory) {
  (void)inventory.match("all");
  (void)inventory.targets({"*"});
  (void)inventory.host_for_vm("0123ABCD-0000-0000-0000-000000000000");
  for (const auto& group : inventory.group_names()) (void)inventory.match(group);
  for (const auto& host : inventory.hosts()) {
    (void)inventory.target(host.name);
    (void)inventory.find(host.name);
  }
}

}  // namespace steward::fuzz
