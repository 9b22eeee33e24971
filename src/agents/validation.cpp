#include "agents/validation.hpp"

#include <algorithm>
#include <cctype>

#include "core/strings.hpp"

namespace steward::agents {
namespace {

constexpr std::size_t kMaxHostname = 253;
constexpr std::size_t kMaxLabels = 64;
constexpr std::size_t kMaxLabelKey = 63;
constexpr std::size_t kMaxLabelValue = 255;
constexpr std::size_t kMaxVersion = 64;

// Valid UTF-8 without control characters.
bool is_printable(const std::string& text) {
  return is_valid_utf8(text) &&
         std::none_of(text.begin(), text.end(), [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); });
}

bool is_label_key(const std::string& key) {
  return !key.empty() && key.size() <= kMaxLabelKey && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

Status check_enrol_details(const std::string& hostname, const std::map<std::string, std::string>& labels,
                           const std::string& version) {
  if (hostname.empty() || hostname.size() > kMaxHostname || !is_printable(hostname))
    return make_error(ErrorCode::InvalidArgument, "an agent's hostname is 1 to 253 printable characters");
  if (labels.size() > kMaxLabels) return make_error(ErrorCode::InvalidArgument, "an agent has at most 64 labels");
  for (const auto& [key, value] : labels) {
    if (!is_label_key(key))
      return make_error(ErrorCode::InvalidArgument,
                        "an agent's label key is 1 to 63 of A-Z a-z 0-9 . _ - (not '" + to_valid_utf8(key.substr(0, 63)) + "')");
    if (value.size() > kMaxLabelValue || !is_printable(value))
      return make_error(ErrorCode::InvalidArgument,
                        "label '" + key + "': a value is at most 255 bytes of printable characters");
  }
  if (version.size() > kMaxVersion || !is_printable(version))
    return make_error(ErrorCode::InvalidArgument, "an agent's version is at most 64 printable characters");
  return {};
}

}  // namespace steward::agents
