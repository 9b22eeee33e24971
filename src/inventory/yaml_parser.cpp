// Ansible's YAML inventory format, following ansible/plugins/inventory/yaml.py.
#include <yaml-cpp/yaml.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "inventory/inventory.hpp"
#include "inventory/inventory_builder.hpp"

namespace steward::inventory {
namespace {

// Nesting and alias limits: YAML aliases can make a small file describe an
// exponentially large tree, which must fail cleanly instead.
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxVisits = 1'000'000;

using Entries = std::vector<std::pair<YAML::Node, YAML::Node>>;

int line_of(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  auto mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

bool is_merge_key(const YAML::Node& key) {
  return key.IsScalar() && key.Scalar() == "<<" && key.Tag() != "!";
}

// A mapping's entries in order. Merge keys (`<<: *defaults`), which PyYAML
// resolves and yaml-cpp does not, contribute first so explicit keys win.
// A scalar stands for a one-entry mapping with a null value, as Ansible allows
// `hosts: web1`.
Entries entries_of(const YAML::Node& node) {
  if (node.IsScalar()) return {{node, YAML::Node()}};
  Entries merged, own;
  if (!node.IsMap()) return own;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!is_merge_key(it->first)) {
      own.emplace_back(it->first, it->second);
      continue;
    }
    auto add = [&](const YAML::Node& m) {
      if (!m.IsMap()) return;
      for (auto kv = m.begin(); kv != m.end(); ++kv) merged.emplace_back(kv->first, kv->second);
    };
    if (it->second.IsSequence()) {
      for (const auto& m : it->second) add(m);
    } else {
      add(it->second);
    }
  }
  merged.insert(merged.end(), own.begin(), own.end());
  return merged;
}

// Plain scalars get YAML 1.1 types, as PyYAML (Ansible) reads them; quoted ones stay strings.
boost::json::value scalar_json(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() != "?") return boost::json::value(s);  // quoted or explicitly tagged
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  for (const char* t : {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"}) {
    if (s == t) return true;
  }
  for (const char* f : {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"}) {
    if (s == f) return false;
  }
  std::string_view digits = s[0] == '+' ? std::string_view(s).substr(1) : std::string_view(s);
  const char* end = digits.data() + digits.size();
  std::int64_t i = 0;
  if (auto r = std::from_chars(digits.data(), end, i); r.ec == std::errc() && r.ptr == end)
    return i;
  double d = 0;
  bool numeric = !digits.empty() && (std::isdigit(static_cast<unsigned char>(digits.back())) != 0);
  if (auto r = std::from_chars(digits.data(), end, d);
      numeric && r.ec == std::errc() && r.ptr == end && std::isfinite(d)) {
    return d;
  }
  return boost::json::value(s);
}

class YamlWalker {
 public:
  explicit YamlWalker(const std::string& origin) : builder_(origin) {}
  Result<Inventory> run(const YAML::Node& root);

 private:
  Result<std::string> group(const YAML::Node& key, const YAML::Node& data, int depth);
  Status section(const std::string& group, const YAML::Node& key, const YAML::Node& value,
                 int depth);
  Status vars(const std::string& group, const YAML::Node& map);
  Status children(const std::string& group, const YAML::Node& map, int depth);
  Status hosts(const std::string& group, const YAML::Node& map);
  Result<std::vector<std::pair<std::string, std::string>>> var_list(const YAML::Node& map);
  Result<std::string> value_text(const YAML::Node& node);
  Result<boost::json::value> to_json(const YAML::Node& node, int depth);
  Result<std::string> name_of(const YAML::Node& key, std::string_view what);
  Status visit(const YAML::Node& node);

  InventoryBuilder builder_;
  std::size_t visits_ = 0;
};

Status YamlWalker::visit(const YAML::Node& node) {
  if (++visits_ > kMaxVisits)
    return builder_.error(line_of(node), "inventory too large (YAML aliases?)");
  return {};
}

Result<std::string> YamlWalker::name_of(const YAML::Node& key, std::string_view what) {
  if (!key.IsScalar() || key.Scalar().empty()) {
    return builder_.error(line_of(key), std::string(what) + " must be a non-empty string");
  }
  return key.Scalar();
}

Result<Inventory> YamlWalker::run(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull()) return builder_.build();
  if (!root.IsMap()) {
    return builder_.error(line_of(root), "a YAML inventory must be a mapping of group names");
  }
  for (const auto& [key, value] : entries_of(root)) {
    if (auto g = group(key, value, 0); !g) return g.error();
  }
  return builder_.build();
}

Result<std::string> YamlWalker::group(const YAML::Node& key, const YAML::Node& data, int depth) {
  auto name = name_of(key, "a group name");
  if (!name) return name;
  if (depth > kMaxDepth) return builder_.error(line_of(key), "groups nested too deeply");
  if (auto s = visit(key); !s) return s.error();
  builder_.add_group(*name);
  if (!data.IsDefined() || data.IsNull()) return name;
  if (!data.IsMap()) {
    return builder_.error(line_of(data),
                          "group '" + *name + "' must be a mapping of hosts, vars and children");
  }
  for (const auto& [k, v] : entries_of(data)) {
    if (auto s = section(*name, k, v, depth); !s) return s.error();
  }
  return name;
}

Status YamlWalker::section(const std::string& group, const YAML::Node& key, const YAML::Node& value,
                           int depth) {
  std::string kind = key.IsScalar() ? key.Scalar() : std::string();
  if (kind != "hosts" && kind != "vars" && kind != "children") {
    return builder_.error(line_of(key), "unexpected key '" + kind + "' in group '" + group +
                                            "' (expected hosts, vars or children)");
  }
  if (!value.IsDefined() || value.IsNull()) return {};
  if (!value.IsMap() && !value.IsScalar()) {
    return builder_.error(line_of(value),
                          "'" + kind + "' of group '" + group + "' must be a mapping");
  }
  if (kind == "vars") return vars(group, value);
  if (kind == "children") return children(group, value, depth);
  return hosts(group, value);
}

Status YamlWalker::vars(const std::string& group, const YAML::Node& map) {
  for (const auto& [key, value] : entries_of(map)) {
    auto name = name_of(key, "a variable name");
    if (!name) return name.error();
    auto text = value_text(value);
    if (!text) return text.error();
    if (auto s = builder_.set_group_var(group, *name, *text, line_of(key)); !s) return s;
  }
  return {};
}

Status YamlWalker::children(const std::string& group, const YAML::Node& map, int depth) {
  for (const auto& [key, value] : entries_of(map)) {
    auto child = this->group(key, value, depth + 1);
    if (!child) return child.error();
    if (auto s = builder_.add_child(group, *child, line_of(key)); !s) return s;
  }
  return {};
}

Status YamlWalker::hosts(const std::string& group, const YAML::Node& map) {
  for (const auto& [key, value] : entries_of(map)) {
    auto pattern = name_of(key, "a host name");
    if (!pattern) return pattern.error();
    auto spec = expand_host_spec(*pattern);
    if (!spec) return builder_.error(line_of(key), spec.error().message);
    if (value.IsDefined() && !value.IsNull() && !value.IsMap()) {
      return builder_.error(line_of(value),
                            "host '" + *pattern + "' must map to its variables or be empty");
    }
    auto vars = var_list(value);
    if (!vars) return vars.error();
    for (const auto& name : spec->names) {
      builder_.add_host(name, group);
      if (!spec->port.empty()) builder_.set_host_var(name, "ansible_port", spec->port);
      for (const auto& [k, v] : *vars) builder_.set_host_var(name, k, v);
    }
  }
  return {};
}

Result<std::vector<std::pair<std::string, std::string>>> YamlWalker::var_list(
    const YAML::Node& map) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!map.IsDefined() || !map.IsMap()) return out;
  for (const auto& [key, value] : entries_of(map)) {
    auto name = name_of(key, "a variable name");
    if (!name) return name.error();
    auto text = value_text(value);
    if (!text) return text.error();
    out.emplace_back(std::move(*name), std::move(*text));
  }
  return out;
}

// Scalars keep the text as written; lists and mappings are stored as JSON.
Result<std::string> YamlWalker::value_text(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return std::string();
  if (node.IsScalar()) return node.Scalar();
  auto json = to_json(node, 0);
  if (!json) return json.error();
  return boost::json::serialize(*json);
}

Result<boost::json::value> YamlWalker::to_json(const YAML::Node& node, int depth) {
  if (auto s = visit(node); !s) return s.error();
  if (depth > kMaxDepth) return builder_.error(line_of(node), "value nested too deeply");
  if (!node.IsDefined() || node.IsNull()) return boost::json::value(nullptr);
  if (node.IsScalar()) return scalar_json(node);
  if (node.IsSequence()) {
    boost::json::array array;
    for (const auto& item : node) {
      auto v = to_json(item, depth + 1);
      if (!v) return v;
      array.push_back(std::move(*v));
    }
    return boost::json::value(std::move(array));
  }
  boost::json::object object;
  for (const auto& [key, value] : entries_of(node)) {
    auto k = key.IsScalar() ? Result<boost::json::value>(boost::json::value(key.Scalar()))
                            : to_json(key, depth + 1);
    if (!k) return k;
    auto v = to_json(value, depth + 1);
    if (!v) return v;
    object[k->is_string() ? std::string(k->as_string()) : boost::json::serialize(*k)] =
        std::move(*v);
  }
  return boost::json::value(std::move(object));
}

Error exception_error(const std::string& origin, const YAML::Exception& e) {
  std::string where = e.mark.line >= 0 ? origin + ":" + std::to_string(e.mark.line + 1) : origin;
  return make_error(ErrorCode::InvalidArgument,
                    where + ": " + (e.msg.empty() ? "invalid YAML" : e.msg));
}

// yaml-cpp reports errors by throwing; nothing may leave the module that way.
template <typename F>
Result<Inventory> guarded(const std::string& origin, F&& body) {
  try {
    return body();
  } catch (const YAML::Exception& e) {
    return exception_error(origin, e);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::InvalidArgument, origin + ": " + e.what());
  } catch (...) {
    return make_error(ErrorCode::Internal, origin + ": unexpected error while reading YAML");
  }
}

}  // namespace

Result<Inventory> Inventory::parse_yaml(std::string_view text, const std::string& origin) {
  return guarded(origin, [&] { return YamlWalker(origin).run(YAML::Load(std::string(text))); });
}

std::optional<Result<Inventory>> parse_yaml_if_inventory(std::string_view text,
                                                         const std::string& origin,
                                                         Error* syntax_error) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
    if (!root.IsMap()) return std::nullopt;
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (!it->second.IsMap() && !it->second.IsNull()) return std::nullopt;
    }
  } catch (const YAML::Exception& e) {  // not YAML: the caller tries INI
    *syntax_error = exception_error(origin, e);
    return std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
  return guarded(origin, [&] { return YamlWalker(origin).run(root); });
}

}  // namespace steward::inventory
