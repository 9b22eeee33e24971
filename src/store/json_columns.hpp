#pragma once
// JSON held in one stored field, the same way in every store (private to
// src/store): the target list, and reading back what a field holds.
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <optional>
#include <string>
#include <vector>

namespace steward::store {

inline std::string targets_json(const std::vector<std::string>& targets) {
  boost::json::array array;
  for (const auto& target : targets) array.emplace_back(target);
  return boost::json::serialize(array);
}

// Null for text that is not JSON (a damaged field reads as missing).
inline boost::json::value parse_or_null(const std::string& text) {
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  return ec ? boost::json::value() : value;
}

inline std::optional<boost::json::object> parse_object(const std::string& text) {
  auto value = parse_or_null(text);
  if (!value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

}  // namespace steward::store
