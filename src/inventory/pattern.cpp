// Ansible host patterns, following ansible/inventory/manager.py.
#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <regex>

#include "inventory/inventory.hpp"
#include "inventory/inventory_builder.hpp"

namespace steward::inventory {
namespace {

// `web[0]`, `web[-1]`, `web[1:3]`, `web[2:]`: a subset of what the rest matched.
struct Subscript {
  int start = 0;
  std::optional<int> end;  // a range's inclusive end, -1 for "to the last"; unset: one index
};

// Ansible's split_host_pattern: ',' ':' and whitespace separate entries,
// except inside [...] (host ranges and subscripts). Ansible splits on ':' only
// when there is no ','; steward accepts both together.
std::vector<std::string> split_pattern(std::string_view pattern) {
  std::vector<std::string> out;
  std::string current;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    auto close = c == '[' ? pattern.find(']', i) : std::string_view::npos;
    if (close != std::string_view::npos) {
      current.append(pattern.substr(i, close - i + 1));
      i = close;
    } else if (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

// Ansible's order_patterns: unions first, then intersections, then exclusions;
// with no union at all, the others apply to `all`.
std::vector<std::string> ordered_entries(std::string_view pattern) {
  auto entries = split_pattern(pattern);
  if (entries.empty()) return entries;
  auto rank = [](const std::string& e) { return e[0] == '&' ? 1 : e[0] == '!' ? 2 : 0; };
  std::stable_sort(entries.begin(), entries.end(),
                   [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  if (rank(entries.front()) != 0) entries.insert(entries.begin(), "all");
  return entries;
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// PATTERN_WITH_SUBSCRIPT: `(.+)\[(-?[0-9]+|[0-9]+[:-][0-9]*)\]`.
std::pair<std::string_view, std::optional<Subscript>> split_subscript(std::string_view expr) {
  auto open = expr.rfind('[');
  if (!expr.ends_with(']') || open == std::string_view::npos || open == 0)
    return {expr, std::nullopt};
  auto base = expr.substr(0, open), inner = expr.substr(open + 1, expr.size() - open - 2);
  bool signed_index = inner.starts_with('-') && is_digits(inner.substr(1));
  if (auto index = parse_int(inner); index && (is_digits(inner) || signed_index)) {
    return {base, Subscript{*index, std::nullopt}};
  }
  auto sep = inner.find_first_of(":-");
  if (sep == std::string_view::npos) return {expr, std::nullopt};
  auto start = parse_int(inner.substr(0, sep));
  auto end_text = inner.substr(sep + 1);
  auto end = end_text.empty() ? std::optional<int>(-1) : parse_int(end_text);
  if (!is_digits(inner.substr(0, sep)) || !start || !end ||
      (!end_text.empty() && !is_digits(end_text))) {
    return {expr, std::nullopt};
  }
  return {base, Subscript{*start, *end}};
}

// Ansible's _apply_subscript, Python indexing included: a range end of 0
// means a single index, and an index out of range selects nothing.
std::vector<std::size_t> apply_subscript(std::vector<std::size_t> hosts, const Subscript& sub) {
  const long long n = static_cast<long long>(hosts.size());
  if (sub.end.value_or(0) != 0) {
    long long first = std::min<long long>(sub.start, n);
    long long last = *sub.end == -1 ? n : std::min<long long>(*sub.end + 1LL, n);
    if (first >= last) return {};
    return {hosts.begin() + first, hosts.begin() + last};
  }
  long long index = sub.start < 0 ? n + sub.start : sub.start;
  if (index < 0 || index >= n) return {};
  return {hosts[static_cast<std::size_t>(index)]};
}

// Patterns come from API callers: libstdc++'s default backtracking executor
// takes exponential time on `(a*)*b` and recurses once per character, while
// its polynomial one does neither (and refuses back-references).
#if defined(__GLIBCXX__)
constexpr auto kRegexFlags = std::regex::ECMAScript | std::regex_constants::__polynomial;
#else
constexpr auto kRegexFlags = std::regex::ECMAScript;
#endif

// libstdc++ (GCC 12) reads the number of a back-reference or a {count}
// into a long without checking for overflow (undefined behaviour, found by
// fuzz_host_pattern); no host pattern needs more than 9 digits there.
void refuse_huge_counts(std::string_view regex) {
  for (std::size_t i = 0; i + 1 < regex.size(); ++i) {
    if (regex[i] != '\\' && regex[i] != '{' && regex[i] != ',') continue;
    std::size_t digits = 0;
    while (i + 1 + digits < regex.size() && std::isdigit(static_cast<unsigned char>(regex[i + 1 + digits]))) ++digits;
    if (digits > 9) throw std::regex_error(std::regex_constants::error_badbrace);
  }
}

// Globs are fnmatch on whole names; `~regex` matches at the start, as Python's re.match.
class NameMatcher {
 public:
  explicit NameMatcher(std::string_view expr) : regex_(expr.starts_with('~')), expr_(expr) {
    if (!regex_) return;
    refuse_huge_counts(expr_.substr(1));
    re_.emplace(expr_.substr(1), kRegexFlags);
  }
  bool is_regex() const { return regex_; }
  bool operator()(const std::string& name) const {
    if (regex_) return std::regex_search(name, *re_, std::regex_constants::match_continuous);
    return ::fnmatch(expr_.c_str(), name.c_str(), FNM_NOESCAPE) == 0;
  }

 private:
  bool regex_;
  std::string expr_;
  std::optional<std::regex> re_;
};

}  // namespace

Result<std::vector<std::size_t>> Inventory::match_entry(std::string_view entry) const {
  if (auto it = host_index_.find(entry); it != host_index_.end()) return std::vector{it->second};
  auto [expr, subscript] = entry.starts_with('~') ? std::pair{entry, std::optional<Subscript>()}
                                                  : split_subscript(entry);
  const NameMatcher matches(expr);  // throws std::regex_error on a bad regex; match() catches it
  std::vector<char> picked(hosts_.size(), 0);
  bool group_hit = false, host_hit = false;
  for (const auto& [group, members] : group_members_) {
    if (!matches(group)) continue;
    group_hit = true;
    for (const auto& member : members) picked[host_index_.find(member)->second] = 1;
  }
  // Names are tried as hosts too when no group matched, or they look like a glob or an address.
  if (!group_hit || matches.is_regex() || expr.find_first_of(".?*[") != std::string_view::npos) {
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      if (matches(hosts_[i].name)) picked[i] = 1, host_hit = true;
    }
  }
  if (!group_hit && !host_hit)
    return make_error(ErrorCode::NotFound, "no such host: " + std::string(entry));
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < picked.size(); ++i) {
    if (picked[i]) out.push_back(i);
  }
  return subscript ? apply_subscript(std::move(out), *subscript) : out;
}

Result<std::vector<std::string>> Inventory::match(std::string_view pattern) const {
  auto entries = ordered_entries(pattern);
  if (entries.empty()) return make_error(ErrorCode::InvalidArgument, "empty host pattern");
  std::vector<char> selected(hosts_.size(), 0);
  for (const auto& entry : entries) {
    const char op = entry[0] == '&' || entry[0] == '!' ? entry[0] : 0;
    const std::string_view body = std::string_view(entry).substr(op ? 1 : 0);
    if (body.empty())
      return make_error(ErrorCode::InvalidArgument, "invalid host pattern: " + entry);
    Result<std::vector<std::size_t>> found = std::vector<std::size_t>{};
    try {
      found = match_entry(body);
    } catch (const std::exception& e) {  // std::regex reports a bad regex by throwing
      return make_error(ErrorCode::InvalidArgument,
                        "invalid host pattern " + entry + ": " + e.what());
    }
    if (!found) return found.error();
    std::vector<char> hit(hosts_.size(), 0);
    for (auto i : *found) hit[i] = 1;
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      selected[i] = op == '!'   ? selected[i] && !hit[i]
                    : op == '&' ? selected[i] && hit[i]
                                : selected[i] || hit[i];
    }
  }
  std::vector<std::string> names;
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    if (selected[i]) names.push_back(hosts_[i].name);
  }
  if (names.empty())
    return make_error(ErrorCode::NotFound, "no such host: " + std::string(trim(pattern)));
  return names;
}

}  // namespace steward::inventory
