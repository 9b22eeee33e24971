#pragma once
// Internal to src/inventory/: the mutable model both parsers fill. Ansible's
// rules that need the whole file (ungrouped, implicit children of `all`,
// group depth, variable precedence) are applied once, in build().
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inventory/inventory.hpp"

namespace steward::inventory {

std::string_view trim(std::string_view text);

// How a steward_vm_id is looked up: trimmed and in lower case.
std::string vm_id_key(std::string_view id);

// A whole decimal integer or nothing, so "2x" and "" are rejected, not truncated.
std::optional<int> parse_int(std::string_view text);

// A host entry as written in an inventory: `web[01:03]:2222` gives three names
// and port 2222. Ranges expand as Ansible's expand_hostname_range does.
struct HostSpec {
  std::vector<std::string> names;
  std::string port;  // empty when none was written
};

// Errors carry a plain message; the caller adds the file and line.
Result<HostSpec> expand_host_spec(std::string_view text);

// What load_file uses to choose the format: a YAML mapping whose values are
// all mappings or null is parsed as YAML; anything else is nullopt (try INI).
// When the text is not YAML at all, *syntax_error gets yaml-cpp's complaint.
std::optional<Result<Inventory>> parse_yaml_if_inventory(std::string_view text,
                                                         const std::string& origin,
                                                         Error* syntax_error);

class InventoryBuilder {
 public:
  explicit InventoryBuilder(std::string origin);

  // InvalidArgument "origin:line: message"; line 0 means no line is known.
  Error error(int line, std::string_view message) const;

  bool has_group(std::string_view name) const;
  void add_group(std::string_view name);
  // Creates the child if it is new: Ansible would reject an undefined child,
  // steward treats it as an empty group.
  Status add_child(std::string_view parent, std::string_view child, int line);
  Status set_group_var(std::string_view group, std::string key, std::string value, int line);
  void add_host(std::string_view host, std::string_view group);
  void set_host_var(std::string_view host, std::string key, std::string value);

  Result<Inventory> build();

 private:
  struct Group {
    std::string name;
    std::map<std::string, std::string> vars;
    std::vector<std::size_t> children;
    std::vector<std::pair<std::size_t, int>> parents;  // parent index, line of the declaration
    int priority = 1;                                  // ansible_group_priority
    int depth = 0;                                     // longest path from `all`
  };
  struct HostEntry {
    std::string name;
    std::map<std::string, std::string> vars;
    std::vector<std::size_t> groups;  // direct groups only
  };

  std::size_t group_index(std::string_view name);
  std::size_t host_index(std::string_view name);
  void reconcile();
  Status compute_depths();
  Error cycle_error(const std::vector<std::size_t>& pending) const;
  std::vector<std::size_t> groups_of(const HostEntry& host) const;
  Host effective(const HostEntry& host) const;
  Status index_vm_id(Inventory& inventory, const Host& host) const;

  std::string origin_;
  std::vector<Group> groups_;
  std::map<std::string, std::size_t, std::less<>> group_ids_;
  std::vector<HostEntry> hosts_;
  std::map<std::string, std::size_t, std::less<>> host_ids_;
};

}  // namespace steward::inventory
