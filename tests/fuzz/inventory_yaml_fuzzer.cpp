// Ansible YAML (and JSON) inventories.
#include "fuzz_input.hpp"
#include "inventory_exercise.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto inventory = steward::inventory::Inventory::parse_yaml(steward::fuzz::text_of(data, size), "fuzz.yml");
  if (inventory) steward::fuzz::exercise(*inventory);
  return 0;
}
