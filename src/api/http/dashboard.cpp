#include "api/http/dashboard.hpp"

#include <algorithm>
#include <cctype>

#include "core/strings.hpp"

namespace steward::api::http {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// The quality of one Accept element ("text/html;q=0.9"): 1 without a q.
double quality(std::string_view parameters) {
  for (const auto& parameter : split_nonempty(parameters, ';')) {
    auto text = trim(parameter);
    if (text.size() < 2 || (text[0] != 'q' && text[0] != 'Q') || text[1] != '=') continue;
    text.remove_prefix(2);
    // By hand, not strtod: locale-free, and q values have at most three decimals.
    double value = 0;
    double scale = 1;
    bool fraction = false;
    for (char c : text) {
      if (c == '.') {
        fraction = true;
      } else if (c >= '0' && c <= '9') {
        if (fraction) value += (c - '0') * (scale /= 10);
        else value = value * 10 + (c - '0');
      } else {
        return 0;
      }
    }
    return value > 1 ? 1 : value;
  }
  return 1;
}

}  // namespace

bool prefers_html(std::string_view accept) {
  double html = 0;
  double json = -1;      // explicit application/json
  double fallback = 0;   // application/* or */*, when JSON is not named
  for (const auto& element : split_nonempty(accept, ',')) {
    std::string_view text = element;
    const auto semicolon = text.find(';');
    const auto type = trim(text.substr(0, semicolon));
    const double q = semicolon == std::string_view::npos ? 1.0 : quality(text.substr(semicolon + 1));
    if (iequals(type, "text/html")) html = std::max(html, q);
    else if (iequals(type, "application/json")) json = std::max(json, q);
    else if (iequals(type, "application/*") || iequals(type, "*/*")) fallback = std::max(fallback, q);
  }
  return html > 0 && html > (json >= 0 ? json : fallback);
}

const WebAsset* find_asset(std::span<const WebAsset> assets, std::string_view path) {
  for (const auto& asset : assets) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  for (const auto& candidate : split_nonempty(if_none_match, ',')) {
    auto text = trim(candidate);
    if (text.starts_with("W/")) text.remove_prefix(2);
    if (text == "*" || text == etag) return true;
  }
  return false;
}

}  // namespace steward::api::http
