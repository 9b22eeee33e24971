#pragma once
// Typed reads of yaml-cpp nodes for the task file parser. Each returns
// nullopt on a wrong type so the caller can name the key in its error.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace steward::tasks {

int line_of(const YAML::Node& node);  // 1-based; 0 when unknown
std::optional<std::string> scalar_string(const YAML::Node& node);
std::optional<bool> bool_value(const YAML::Node& node);
std::optional<long long> integer_value(const YAML::Node& node);
std::optional<std::chrono::milliseconds> seconds_value(const YAML::Node& node);  // > 0
std::optional<std::vector<std::string>> string_list(const YAML::Node& node);     // a string or a list
std::optional<std::map<std::string, std::string>> string_map(const YAML::Node& node);
// A request body: a string as is, a mapping or list as JSON.
std::optional<std::string> data_text(const YAML::Node& node);

}  // namespace steward::tasks
