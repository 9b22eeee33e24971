#include "tasks/yaml_values.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>

namespace steward::tasks {

int line_of(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  auto mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

std::optional<std::string> scalar_string(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  return node.Scalar();
}

std::optional<bool> bool_value(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  bool value = false;
  // yaml-cpp's YAML 1.1 spellings: true/false, yes/no, on/off, y/n.
  if (!YAML::convert<bool>::decode(node, value)) return std::nullopt;
  return value;
}

std::optional<long long> integer_value(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  const std::string& s = node.Scalar();
  long long value = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<std::chrono::milliseconds> seconds_value(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  const std::string& s = node.Scalar();
  double seconds = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), seconds);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  // A week caps typos like `timeout: 1e12` that would overflow milliseconds.
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > 7 * 24 * 3600.0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000)));
}

std::optional<std::vector<std::string>> string_list(const YAML::Node& node) {
  if (node.IsScalar()) return std::vector<std::string>{node.Scalar()};
  if (!node.IsSequence()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : node) {
    if (!item.IsScalar()) return std::nullopt;
    out.push_back(item.Scalar());
  }
  return out;
}

std::optional<std::map<std::string, std::string>> string_map(const YAML::Node& node) {
  if (!node.IsMap()) return std::nullopt;
  std::map<std::string, std::string> out;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar() || !it->second.IsScalar()) return std::nullopt;
    out[it->first.Scalar()] = it->second.Scalar();
  }
  return out;
}

namespace {

boost::json::value to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    boost::json::object out;
    for (auto it = node.begin(); it != node.end(); ++it) out[it->first.Scalar()] = to_json(it->second);
    return out;
  }
  if (node.IsSequence()) {
    boost::json::array out;
    for (const auto& item : node) out.push_back(to_json(item));
    return out;
  }
  if (!node.IsScalar()) return nullptr;
  const std::string& s = node.Scalar();
  if (node.Tag() != "?") return boost::json::value(s);  // quoted: stays a string
  if (auto b = bool_value(node)) return *b;
  if (auto i = integer_value(node)) return *i;
  double d = 0;
  if (auto r = std::from_chars(s.data(), s.data() + s.size(), d);
      !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(d))
    return d;
  if (s == "~" || s == "null") return nullptr;
  return boost::json::value(s);
}

}  // namespace

std::optional<std::string> data_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsMap() || node.IsSequence()) return boost::json::serialize(to_json(node));
  return std::nullopt;
}

}  // namespace steward::tasks
