// Ansible INI inventories (hosts, groups, :vars, :children, ranges).
#include "fuzz_input.hpp"
#include "inventory_exercise.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto inventory = steward::inventory::Inventory::parse_ini(steward::fuzz::text_of(data, size), "fuzz.ini");
  if (inventory) steward::fuzz::exercise(*inventory);
  return 0;
}
