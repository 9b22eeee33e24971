#include "inventory/inventory.hpp"

#include <cctype>

#include <algorithm>
#include <set>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "inventory/inventory_builder.hpp"

namespace steward::inventory {
namespace {

// Inventories are small; this only stops a wrong path (a disk image, /dev/zero) early.
constexpr std::size_t kMaxFileBytes = 64u << 20;

Result<std::string> read_file(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return make_error(ErrorCode::NotFound, path + ": cannot read inventory: no such file");
  }
  if (std::filesystem::is_directory(status)) {
    return make_error(ErrorCode::InvalidArgument, path + ": cannot read inventory: is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::InvalidArgument,
                      path + ": cannot read inventory: " + std::strerror(errno));
  }
  std::string data;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    data.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (data.size() > kMaxFileBytes) {
      return make_error(ErrorCode::InvalidArgument, path + ": inventory larger than 64 MiB");
    }
  }
  if (in.bad()) return make_error(ErrorCode::InvalidArgument, path + ": read error");
  return data;
}

// A first line like `all:`, `---` or `{` is never meant as INI (though INI
// would take `all:` as a host name): such a file's YAML error is the useful one.
bool looks_like_yaml(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    auto end = std::min(text.find('\n', pos), text.size());
    auto line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    return line == "---" || line[0] == '{' || line.back() == ':';
  }
  return false;
}

}  // namespace

Result<Inventory> Inventory::load_file(const std::string& path) {
  Result<std::string> text = std::string();
  try {
    text = read_file(path);
  } catch (const std::exception& e) {  // std::bad_alloc and the like
    return make_error(ErrorCode::Internal, path + ": " + e.what());
  }
  if (!text) return text.error();
  Error yaml_error;
  if (auto yaml = parse_yaml_if_inventory(*text, path, &yaml_error)) return std::move(*yaml);
  auto inventory = parse_ini(*text, path);
  if (!inventory && !yaml_error.message.empty() && looks_like_yaml(*text)) return yaml_error;
  return inventory;
}

Inventory Inventory::builtin() {
  InventoryBuilder builder("built-in inventory");
  builder.add_host("localhost", "ungrouped");
  builder.set_host_var("localhost", "ansible_connection", "local");
  auto inventory = builder.build();
  return inventory ? std::move(*inventory) : Inventory();  // cannot fail: no groups to cycle
}

const Host* Inventory::find(std::string_view name) const {
  auto it = host_index_.find(name);
  return it == host_index_.end() ? nullptr : &hosts_[it->second];
}

Result<std::string> Inventory::host_for_vm(std::string_view id) const {
  if (const Host* host = find(id)) return host->name;
  auto it = vm_index_.find(vm_id_key(id));
  if (it != vm_index_.end()) return hosts_[it->second].name;
  return make_error(ErrorCode::NotFound, "virtual machine '" + std::string(id) +
                                             "' is not in the inventory: no host has that name or steward_vm_id");
}

std::vector<std::string> Inventory::group_names() const {
  std::vector<std::string> names;
  names.reserve(group_members_.size());
  for (const auto& [name, members] : group_members_) names.push_back(name);
  return names;
}

Result<std::vector<Target>> Inventory::targets(const std::vector<std::string>& patterns) const {
  std::vector<Target> targets;
  std::set<std::string> seen;
  for (const auto& pattern : patterns) {
    auto names = match(pattern);
    if (!names) return names.error();
    for (const auto& name : *names) {
      if (!seen.insert(name).second) continue;
      auto found = target(name);
      if (!found) return found.error();
      targets.push_back(std::move(*found));
    }
  }
  return targets;
}

Result<Target> Inventory::target(std::string_view name) const {
  const Host* host = find(name);
  if (host == nullptr) return make_error(ErrorCode::NotFound, "no such host: " + std::string(name));
  Target target;
  target.name = host->name;
  target.vars = host->vars;
  auto connection = host->vars.find("ansible_connection");
  if (connection != host->vars.end() && !trim(connection->second).empty()) {
    target.connection = std::string(trim(connection->second));
  } else {
    // Ansible runs an inventory host named localhost locally unless told otherwise.
    target.connection = host->name == "localhost" ? "local" : "ssh";
  }
  auto sessions = host->vars.find("steward_max_sessions");
  if (sessions != host->vars.end()) {
    auto value = parse_int(trim(sessions->second));
    if (!value || *value < 1) {
      return make_error(ErrorCode::InvalidArgument,
                        "host " + host->name +
                            ": steward_max_sessions must be an integer >= 1, got '" +
                            sessions->second + "'");
    }
    target.max_sessions = *value;
  }
  return target;
}

namespace {

std::string group_word(std::string text) {
  for (auto& c : text)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  return text;
}

}  // namespace

bool Inventory::add_agent_host(const std::string& id, const std::map<std::string, std::string>& labels) {
  if (find(id)) return false;
  for (const auto& host : hosts_) {
    auto var = host.vars.find("steward_agent_id");
    if (var != host.vars.end() && trim(var->second) == id) return false;
  }
  Host host{id, {{"ansible_connection", "agent"}, {"steward_agent_id", id}}, {"all", "agents"}};
  for (const auto& [key, value] : labels) host.groups.push_back("label_" + group_word(key) + "_" + group_word(value));
  add_host(std::move(host));
  return true;
}

bool Inventory::add_callback_host(const std::string& name, std::map<std::string, std::string> vars) {
  if (find(name)) return false;
  add_host(Host{name, std::move(vars), {"all", "callback"}});
  added_callback_hosts_.insert(name);
  return true;
}

bool Inventory::remove_callback_host(const std::string& name) {
  if (!added_callback_hosts_.erase(name)) return false;
  auto found = host_index_.find(name);
  if (found == host_index_.end()) return false;
  const std::size_t index = found->second;
  host_index_.erase(found);
  hosts_.erase(hosts_.begin() + static_cast<std::ptrdiff_t>(index));
  for (auto& [group, members] : group_members_) std::erase(members, name);
  // Every later host moved up by one.
  for (auto& [host, at] : host_index_)
    if (at > index) --at;
  std::erase_if(vm_index_, [index](const auto& entry) { return entry.second == index; });
  for (auto& [id, at] : vm_index_)
    if (at > index) --at;
  return true;
}

void Inventory::add_host(Host host) {
  for (const auto& group : host.groups) group_members_[group].push_back(host.name);
  host_index_.emplace(host.name, hosts_.size());
  hosts_.push_back(std::move(host));
}

}  // namespace steward::inventory
