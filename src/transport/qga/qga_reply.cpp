#include "transport/qga/qga_reply.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace steward::transport::qga {

namespace json = boost::json;

std::optional<std::string> take_line(std::string& buffer, LineScan& scan) {
  if (!scan.delimited) {
    auto mark = buffer.find(kDelimiter);
    buffer.erase(0, mark == std::string::npos ? buffer.size() : mark + 1);
    scan.delimited = mark != std::string::npos;
    if (!scan.delimited) return std::nullopt;
  }
  auto newline = buffer.find('\n', scan.scanned);
  if (newline == std::string::npos) {
    scan.scanned = buffer.size();
    return std::nullopt;
  }
  std::string line = buffer.substr(0, newline);
  buffer.erase(0, newline + 1);
  scan.scanned = 0;
  return line;
}

std::optional<Reply> parse_reply(std::string_view line) {
  boost::system::error_code parse_error;
  json::value parsed = json::parse(line, parse_error);
  json::object* object = parse_error ? nullptr : parsed.if_object();
  if (!object) return std::nullopt;
  if (auto* value = object->if_contains("return")) return Reply{std::move(*value), {}};
  if (const auto* error = object->if_contains("error"); error && error->is_object()) {
    const auto* desc = error->as_object().if_contains("desc");
    return Reply{std::nullopt, desc && desc->is_string() ? std::string(desc->as_string()) : json::serialize(*error)};
  }
  return std::nullopt;
}

std::optional<std::int64_t> integer_value(const json::value& value) {
  boost::system::error_code error;
  auto number = value.to_number<std::int64_t>(error);
  if (error) return std::nullopt;
  return number;
}

std::optional<std::int64_t> integer_field(const json::value& object, std::string_view key) {
  const auto* fields = object.if_object();
  const auto* value = fields ? fields->if_contains(key) : nullptr;
  return value ? integer_value(*value) : std::nullopt;
}

bool true_field(const json::value& object, std::string_view key) {
  const auto* fields = object.if_object();
  const auto* value = fields ? fields->if_contains(key) : nullptr;
  return value && value->is_bool() && value->get_bool();
}

}  // namespace steward::transport::qga
