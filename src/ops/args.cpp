#include "ops/args.hpp"

#include <charconv>
#include <cmath>

#include "core/strings.hpp"

namespace steward::ops {
namespace {

Error bad(const char* key, const std::string& what) {
  return make_error(ErrorCode::InvalidArgument, std::string("'") + key + "' " + what);
}

const boost::json::value* lookup(const boost::json::object& args, const char* key) {
  auto it = args.find(key);
  return it == args.end() || it->value().is_null() ? nullptr : &it->value();
}

}  // namespace

Result<std::optional<std::string>> optional_string(const boost::json::object& args, const char* key) {
  const auto* value = lookup(args, key);
  if (!value) return std::optional<std::string>();
  if (!value->is_string()) return bad(key, "must be a string");
  return std::optional<std::string>(std::string(value->as_string()));
}

Result<std::string> required_string(const boost::json::object& args, const char* key) {
  auto value = optional_string(args, key);
  if (!value) return value.error();
  if (!*value || (*value)->empty()) return bad(key, "is required");
  return std::move(**value);
}

Result<std::optional<std::vector<std::string>>> optional_string_list(const boost::json::object& args,
                                                                     const char* key) {
  const auto* value = lookup(args, key);
  if (!value) return std::optional<std::vector<std::string>>();
  if (!value->is_array()) return bad(key, "must be a list of strings");
  std::vector<std::string> out;
  for (const auto& item : value->as_array()) {
    if (!item.is_string()) return bad(key, "must be a list of strings");
    out.emplace_back(item.as_string());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::map<std::string, std::string>> string_map(const boost::json::object& args, const char* key) {
  std::map<std::string, std::string> out;
  const auto* value = lookup(args, key);
  if (!value) return out;
  if (!value->is_object()) return bad(key, "must be an object of strings");
  for (const auto& [name, item] : value->as_object()) {
    if (!item.is_string()) return bad(key, "must be an object of strings");
    if (name.empty() || name.find('=') != boost::json::string_view::npos)
      return bad(key, "has an invalid variable name");
    out.emplace(std::string(name), std::string(item.as_string()));
  }
  return out;
}

Result<bool> optional_bool(const boost::json::object& args, const char* key, bool fallback) {
  const auto* value = lookup(args, key);
  if (!value) return fallback;
  if (value->is_bool()) return value->as_bool();
  if (value->is_string()) {
    if (auto flag = parse_flag(value->as_string())) return *flag;
  }
  if (value->is_int64()) return value->as_int64() != 0;
  return bad(key, std::string("must be a boolean: ") + kFlagSpellings);
}

Result<std::chrono::milliseconds> optional_seconds(const boost::json::object& args, const char* key,
                                                   std::chrono::milliseconds fallback) {
  const auto* value = lookup(args, key);
  if (!value) return fallback;
  double seconds = 0;
  if (value->is_number()) {
    seconds = value->to_number<double>();
  } else if (value->is_string()) {
    auto text = value->as_string();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size()) return bad(key, "must be a number of seconds");
  } else {
    return bad(key, "must be a number of seconds");
  }
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > 30 * 24 * 3600.0)
    return bad(key, "must be between 0 and 30 days");
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

Result<std::int64_t> required_int(const boost::json::object& args, const char* key) {
  const auto* value = lookup(args, key);
  if (!value) return bad(key, "is required");
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64() && value->as_uint64() < (1ull << 62)) return static_cast<std::int64_t>(value->as_uint64());
  if (value->is_string()) {
    auto text = value->as_string();
    std::int64_t out = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return out;
  }
  return bad(key, "must be an integer");
}

}  // namespace steward::ops
