// Ansible host patterns (`a:b`, `a:&b`, `a:!b`, globs, `~regex`, ranges,
// comma lists) against a fixed inventory with groups and children.
#include "fuzz_input.hpp"
#include "inventory/inventory.hpp"

namespace {

constexpr std::string_view kInventory = R"(localhost ansible_connection=local
[web]
web[1:3] ansible_connection=local
[db]
db1 steward_vm_id=0123abcd-0000-0000-0000-000000000000
db2
[prod:children]
web
db
[prod:vars]
tier=prod
)";

const steward::inventory::Inventory& inventory() {
  static const auto instance = *steward::inventory::Inventory::parse_ini(kInventory, "fuzz.ini");
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto pattern = steward::fuzz::text_of(data, size);
  (void)inventory().match(pattern);
  (void)inventory().targets({std::string(pattern)});
  (void)inventory().host_for_vm(pattern);
  return 0;
}
