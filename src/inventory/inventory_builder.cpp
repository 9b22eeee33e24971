#include "inventory/inventory_builder.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <tuple>

namespace steward::inventory {
namespace {

// A line like `h[0:999999999]` must fail cleanly, not exhaust memory.
constexpr std::uint64_t kMaxExpandedHosts = 100000;
constexpr std::string_view kLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t value = 0;
  if (!all_digits(s) || s.size() > 18) return std::nullopt;  // 18 digits cannot overflow
  std::from_chars(s.data(), s.data() + s.size(), value);
  return value;
}

Error range_error(std::string_view text, std::string_view why) {
  return make_error(ErrorCode::InvalidArgument,
                    "bad host range in '" + std::string(text) + "': " + std::string(why));
}

using Names = std::vector<std::string>;

Result<Names> number_range(std::string_view text, std::string_view beg, std::string_view end,
                           std::uint64_t step) {
  // A zero-padded begin fixes the width of every name, as Ansible's zfill does.
  std::size_t width = beg.size() > 1 && beg[0] == '0' ? beg.size() : 0;
  if (width != 0 && end.size() != width) {
    return range_error(text, "begin and end must have the same width");
  }
  auto b = parse_u64(beg), e = parse_u64(end);
  if (!b || !e) return range_error(text, "number too large");
  if (*b > *e) return range_error(text, "begin must be <= end");
  std::uint64_t count = (*e - *b) / step + 1;
  if (count > kMaxExpandedHosts) return range_error(text, "expands to too many hosts");
  Names out;
  for (std::uint64_t k = 0; k < count; ++k) {
    std::string s = std::to_string(*b + k * step);
    if (s.size() < width) s.insert(0, width - s.size(), '0');
    out.push_back(std::move(s));
  }
  return out;
}

Result<Names> range_values(std::string_view text, std::string_view inner) {
  std::vector<std::string_view> parts;
  for (std::size_t pos = 0;;) {
    auto colon = inner.find(':', pos);
    parts.push_back(inner.substr(pos, colon == std::string_view::npos ? colon : colon - pos));
    if (colon == std::string_view::npos) break;
    pos = colon + 1;
  }
  if (parts.size() != 2 && parts.size() != 3) {
    return range_error(text, "must be [begin:end] or [begin:end:step]");
  }
  std::string_view beg = parts[0].empty() ? std::string_view("0") : parts[0], end = parts[1];
  if (end.empty()) return range_error(text, "missing end value");
  std::uint64_t step = 1;
  if (parts.size() == 3) {
    auto s = parse_u64(parts[2]);
    if (!s || *s == 0) return range_error(text, "step must be a positive integer");
    step = *s;
  }
  if (all_digits(beg) && all_digits(end)) return number_range(text, beg, end, step);
  auto b = kLetters.find(beg), e = kLetters.find(end);
  if (beg.size() != 1 || end.size() != 1 || b == kLetters.npos || e == kLetters.npos) {
    return range_error(text, "begin and end must both be numbers or both be letters");
  }
  if (b > e) return range_error(text, "begin must be <= end");
  Names out;
  for (auto i = b; i <= e; i += step) out.emplace_back(1, kLetters[i]);
  return out;
}

// Ranges are expanded left to right without recursion, so a line full of
// ranges cannot exhaust the stack.
Result<Names> expand_ranges(std::string_view name) {
  Names out{""};
  for (std::size_t pos = 0;;) {
    auto open = name.find('[', pos);
    auto literal = name.substr(pos, open == std::string_view::npos ? open : open - pos);
    for (auto& s : out) s.append(literal);
    if (open == std::string_view::npos) return out;
    auto close = name.find(']', open);
    if (close == std::string_view::npos) return range_error(name, "missing ]");
    auto values = range_values(name, name.substr(open + 1, close - open - 1));
    if (!values) return values.error();
    if (out.size() * values->size() > kMaxExpandedHosts) {
      return range_error(name, "expands to too many hosts");
    }
    Names next;
    for (const auto& prefix : out) {
      for (const auto& v : *values) next.push_back(prefix + v);
    }
    out = std::move(next);
    pos = close + 1;
  }
}

}  // namespace

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

std::string vm_id_key(std::string_view id) {
  std::string key(trim(id));
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

namespace {

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

std::string hex_byte(unsigned char c) {
  constexpr char kDigits[] = "0123456789abcdef";
  return std::string("\\x") + kDigits[c >> 4] + kDigits[c & 0xf];
}

// Names end up in argv, logs, job records and ssh; a control byte or a blank
// in one is an editing accident (or an attack), never a real host.
Status check_host_name(std::string_view name) {
  auto bad = std::find_if(name.begin(), name.end(), [](char c) { return is_control(c) || c == ' '; });
  if (bad == name.end()) return {};
  std::string shown;
  for (unsigned char c : name) shown += is_control(c) ? hex_byte(c) : std::string(1, static_cast<char>(c));
  const std::string what = *bad == ' ' ? "whitespace" : "a control byte (" + hex_byte(*bad) + ")";
  return make_error(ErrorCode::InvalidArgument, "host name '" + shown + "' contains " + what);
}

}  // namespace

Result<HostSpec> expand_host_spec(std::string_view text) {
  HostSpec spec;
  std::string_view name = text;
  // `host:port`, as Ansible's parse_address: one colon after any range, digits after it.
  auto close = text.rfind(']');
  auto colon = text.find(':', close == std::string_view::npos ? 0 : close);
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos &&
      all_digits(text.substr(colon + 1))) {
    spec.port = std::string(text.substr(colon + 1));
    name = text.substr(0, colon);
  }
  if (name.empty()) return make_error(ErrorCode::InvalidArgument, "empty host name");
  if (auto checked = check_host_name(name); !checked) return checked.error();
  auto names = expand_ranges(name);
  if (!names) return names.error();
  spec.names = std::move(*names);
  return spec;
}

InventoryBuilder::InventoryBuilder(std::string origin) : origin_(std::move(origin)) {
  add_group("all");
  (void)add_child("all", "ungrouped", 0);  // cannot fail: no cycle yet
}

Error InventoryBuilder::error(int line, std::string_view message) const {
  std::string where = line > 0 ? origin_ + ":" + std::to_string(line) : origin_;
  return make_error(ErrorCode::InvalidArgument, where + ": " + std::string(message));
}

bool InventoryBuilder::has_group(std::string_view name) const {
  return group_ids_.find(name) != group_ids_.end();
}

std::size_t InventoryBuilder::group_index(std::string_view name) {
  auto it = group_ids_.find(name);
  if (it != group_ids_.end()) return it->second;
  groups_.push_back(Group{std::string(name), {}, {}, {}, 1, 0});
  group_ids_.emplace(std::string(name), groups_.size() - 1);
  return groups_.size() - 1;
}

std::size_t InventoryBuilder::host_index(std::string_view name) {
  auto it = host_ids_.find(name);
  if (it != host_ids_.end()) return it->second;
  hosts_.push_back(HostEntry{std::string(name), {}, {}});
  host_ids_.emplace(std::string(name), hosts_.size() - 1);
  return hosts_.size() - 1;
}

void InventoryBuilder::add_group(std::string_view name) { group_index(name); }

Status InventoryBuilder::add_child(std::string_view parent, std::string_view child, int line) {
  if (parent == child) {
    return error(line, "group '" + std::string(child) + "' cannot be a child of itself");
  }
  if (child == "all") return error(line, "group 'all' cannot be a child of another group");
  auto p = group_index(parent), c = group_index(child);
  auto& kids = groups_[p].children;
  if (std::find(kids.begin(), kids.end(), c) == kids.end()) {
    kids.push_back(c);
    groups_[c].parents.emplace_back(p, line);
  }
  return {};
}

Status InventoryBuilder::set_group_var(std::string_view group, std::string key, std::string value,
                                       int line) {
  auto& g = groups_[group_index(group)];
  // Ansible turns this one into the group's sort priority instead of a variable.
  if (key == "ansible_group_priority") {
    auto priority = parse_int(trim(value));
    if (!priority) {
      return error(line, "ansible_group_priority of group '" + g.name + "' must be an integer");
    }
    g.priority = *priority;
    return {};
  }
  g.vars[std::move(key)] = std::move(value);
  return {};
}

void InventoryBuilder::add_host(std::string_view host, std::string_view group) {
  auto h = host_index(host), g = group_index(group);
  auto& groups = hosts_[h].groups;
  if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
}

void InventoryBuilder::set_host_var(std::string_view host, std::string key, std::string value) {
  hosts_[host_index(host)].vars[std::move(key)] = std::move(value);
}

// Ansible's reconcile_inventory: `ungrouped` holds exactly the hosts in no
// other group, and every group without a parent is a child of `all`.
void InventoryBuilder::reconcile() {
  const std::size_t all = group_index("all"), ungrouped = group_index("ungrouped");
  for (auto& host : hosts_) {
    auto& g = host.groups;
    bool grouped =
        std::any_of(g.begin(), g.end(), [&](std::size_t i) { return i != all && i != ungrouped; });
    g.erase(std::remove(g.begin(), g.end(), ungrouped), g.end());
    if (!grouped) g.push_back(ungrouped);
  }
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    if (i != all && groups_[i].parents.empty()) (void)add_child("all", groups_[i].name, 0);
  }
}

// Depth is the longest path from `all` (Kahn's algorithm, no recursion);
// groups never reached sit on or below a cycle.
Status InventoryBuilder::compute_depths() {
  std::vector<std::size_t> indegree(groups_.size());
  for (std::size_t i = 0; i < groups_.size(); ++i) indegree[i] = groups_[i].parents.size();
  std::vector<std::size_t> ready{group_index("all")};
  std::size_t done = 0;
  while (!ready.empty()) {
    auto g = ready.back();
    ready.pop_back();
    ++done;
    for (auto c : groups_[g].children) {
      groups_[c].depth = std::max(groups_[c].depth, groups_[g].depth + 1);
      if (--indegree[c] == 0) ready.push_back(c);
    }
  }
  if (done == groups_.size()) return {};
  return cycle_error(indegree);
}

Error InventoryBuilder::cycle_error(const std::vector<std::size_t>& pending) const {
  // Walk up through unfinished parents until a group repeats: that one is on the cycle.
  std::size_t g = 0;
  while (pending[g] == 0) ++g;
  std::vector<char> seen(groups_.size(), 0);
  int line = 0;
  while (!seen[g]) {
    seen[g] = 1;
    for (const auto& [parent, at] : groups_[g].parents) {
      if (pending[parent] != 0) {
        g = parent;
        line = at;
        break;
      }
    }
  }
  return error(line, "group '" + groups_[g].name + "' is its own ancestor (children form a cycle)");
}

std::vector<std::size_t> InventoryBuilder::groups_of(const HostEntry& host) const {
  std::vector<char> seen(groups_.size(), 0);
  std::vector<std::size_t> out, todo = host.groups;
  while (!todo.empty()) {
    auto g = todo.back();
    todo.pop_back();
    if (seen[g]) continue;
    seen[g] = 1;
    out.push_back(g);
    for (const auto& parent : groups_[g].parents) todo.push_back(parent.first);
  }
  // Ansible's sort_groups: shallower groups first, then priority, then name; later wins.
  std::sort(out.begin(), out.end(), [&](std::size_t a, std::size_t b) {
    const auto &x = groups_[a], &y = groups_[b];
    return std::tie(x.depth, x.priority, x.name) < std::tie(y.depth, y.priority, y.name);
  });
  return out;
}

Host InventoryBuilder::effective(const HostEntry& entry) const {
  Host host{entry.name, {}, {}};
  for (auto g : groups_of(entry)) {
    host.groups.push_back(groups_[g].name);
    for (const auto& [key, value] : groups_[g].vars) host.vars[key] = value;
  }
  for (const auto& [key, value] : entry.vars) host.vars[key] = value;
  return host;
}

Result<Inventory> InventoryBuilder::build() {
  reconcile();
  if (auto depths = compute_depths(); !depths) return depths.error();
  Inventory inventory;
  for (const auto& g : groups_) inventory.group_members_[g.name];
  for (const auto& entry : hosts_) {
    Host host = effective(entry);
    for (const auto& g : host.groups) inventory.group_members_[g].push_back(host.name);
    if (auto indexed = index_vm_id(inventory, host); !indexed) return indexed.error();
    inventory.host_index_.emplace(host.name, inventory.hosts_.size());
    inventory.hosts_.push_back(std::move(host));
  }
  return inventory;
}

// One VM, one host: a second claim to the same id would make a request's
// target depend on the order of the file.
Status InventoryBuilder::index_vm_id(Inventory& inventory, const Host& host) const {
  auto var = host.vars.find("steward_vm_id");
  if (var == host.vars.end()) return {};
  std::string id = vm_id_key(var->second);
  if (id.empty()) return error(0, "host " + host.name + ": steward_vm_id is empty");
  auto [claimed, added] = inventory.vm_index_.emplace(id, inventory.hosts_.size());
  if (!added)
    return error(0, "hosts " + inventory.hosts_[claimed->second].name + " and " + host.name +
                        " both have steward_vm_id=" + std::string(trim(var->second)));
  return {};
}

}  // namespace steward::inventory
