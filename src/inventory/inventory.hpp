#pragma once
// Ansible inventories (INI and YAML), read unchanged, and Ansible host patterns.
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"

namespace steward::inventory {

struct Host {
  std::string name;
  // Effective variables: group `all`, then parent groups before children,
  // then the host's own line; later wins, as in Ansible.
  std::map<std::string, std::string> vars;
  std::vector<std::string> groups;  // every group the host belongs to, incl. ancestors and `all`
};

class Inventory {
 public:
  // Picks the format from the content (YAML if it parses as a mapping whose
  // values are mappings, else INI). Errors name the file and, where known, the line.
  static Result<Inventory> load_file(const std::string& path);
  static Result<Inventory> parse_ini(std::string_view text, const std::string& origin);
  static Result<Inventory> parse_yaml(std::string_view text, const std::string& origin);
  // One host `localhost` with ansible_connection=local.
  static Inventory builtin();

  // Hosts matching an Ansible pattern (`all`, `*`, globs, group names,
  // `a:b`, `a:&b`, `a:!b`, comma-separated lists too), in inventory order.
  // A pattern that matches nothing is NotFound naming the part that matched nothing.
  Result<std::vector<std::string>> match(std::string_view pattern) const;

  const Host* find(std::string_view name) const;
  // The host a gRPC `virtual_machine_id` names: the host of that name, else
  // the one whose `steward_vm_id` variable holds that id (compared ignoring
  // case, as UUIDs are written either way). NotFound naming the id.
  Result<std::string> host_for_vm(std::string_view id) const;
  const std::vector<Host>& hosts() const { return hosts_; }
  std::vector<std::string> group_names() const;

  // An agent that connected with no host naming it (by name or by
  // steward_agent_id), issue 13: adds host ID (ansible_connection=agent) to
  // `all`, `agents` and a group label_KEY_VALUE per label (characters other
  // than letters, digits and _ become _). False when a host already names
  // the agent. Loop only, like every reader.
  bool add_agent_host(const std::string& id, const std::map<std::string, std::string>& labels);

  // A registered callback target (issue 14) with no host of its name: adds
  // host NAME with `vars` to `all` and `callback`. False when a host of that
  // name exists. Loop only.
  bool add_callback_host(const std::string& name, std::map<std::string, std::string> vars);
  // Removes a host add_callback_host added (never one of the inventory's
  // own): a removed registration leaves the inventory at once. False when
  // there is none of that name. Loop only.
  bool remove_callback_host(const std::string& name);

  // The host as the transports see it: connection from ansible_connection
  // (default ssh; `localhost` with no connection set is local, as in Ansible),
  // max_sessions from steward_max_sessions (default 1).
  Result<Target> target(std::string_view name) const;
  // The targets every pattern matches, each once, in pattern order; the first
  // pattern that matches nothing is NotFound.
  Result<std::vector<Target>> targets(const std::vector<std::string>& patterns) const;

 private:
  // Indices of the hosts one pattern entry (no leading & or !) selects, in
  // inventory order; NotFound when it names no host and no group.
  Result<std::vector<std::size_t>> match_entry(std::string_view entry) const;
  void add_host(Host host);

  std::vector<Host> hosts_;
  std::map<std::string, std::vector<std::string>, std::less<>> group_members_;  // group -> hosts (with children)
  std::map<std::string, std::size_t, std::less<>> host_index_;                  // host -> index in hosts_
  std::map<std::string, std::size_t, std::less<>> vm_index_;                    // lower-case steward_vm_id -> index
  std::set<std::string, std::less<>> added_callback_hosts_;
  friend class InventoryBuilder;
};

}  // namespace steward::inventory
