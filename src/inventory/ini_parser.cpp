// Ansible's INI inventory format, following ansible/plugins/inventory/ini.py.
#include <optional>
#include <set>

#include "inventory/inventory.hpp"
#include "inventory/inventory_builder.hpp"

namespace steward::inventory {
namespace {

enum class Section { Hosts, Children, Vars };

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

// Appends the quoted text that starts at line[open] to token and returns the
// index of the closing quote, or nullopt when the quote is never closed.
std::optional<std::size_t> read_quoted(std::string_view line, std::size_t open,
                                       std::string& token) {
  const char quote = line[open];
  for (std::size_t i = open + 1; i < line.size(); ++i) {
    char c = line[i];
    if (c == quote) return i;
    // As in shlex: inside double quotes a backslash escapes only " and \.
    if (quote == '"' && c == '\\' && i + 1 < line.size() &&
        (line[i + 1] == '"' || line[i + 1] == '\\')) {
      c = line[++i];
    }
    token += c;
  }
  return std::nullopt;
}

// shlex.split(line, comments=True), which Ansible uses for host lines:
// whitespace separates, quotes group, backslash escapes, # starts a comment.
std::optional<std::vector<std::string>> shell_split(std::string_view line) {
  std::vector<std::string> tokens;
  std::string token;
  bool in_token = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (is_space(c) || c == '#') {
      if (in_token) tokens.push_back(std::move(token));
      token.clear();
      in_token = false;
      if (c == '#') break;
      continue;
    }
    in_token = true;
    if (c == '\\') {
      if (i + 1 < line.size()) token += line[++i];
    } else if (c == '\'' || c == '"') {
      auto close = read_quoted(line, i, token);
      if (!close) return std::nullopt;
      i = *close;
    } else {
      token += c;
    }
  }
  if (in_token) tokens.push_back(std::move(token));
  return tokens;
}

char unescape(char c, bool& keep_backslash) {
  keep_backslash = false;
  switch (c) {
    case 'n':
      return '\n';
    case 't':
      return '\t';
    case 'r':
      return '\r';
    case '\\':
    case '\'':
    case '"':
      return c;
    default:
      keep_backslash = true;
      return c;  // Python keeps unknown escapes as written
  }
}

// Ansible passes INI values through ast.literal_eval: a quoted Python string
// loses its quotes; any other value (numbers, booleans, lists) keeps its text.
std::string literal_text(std::string_view v) {
  if (v.size() < 2 || (v[0] != '\'' && v[0] != '"') || v.back() != v[0]) return std::string(v);
  std::string out;
  for (std::size_t i = 1; i + 1 < v.size(); ++i) {
    char c = v[i];
    if (c == v[0]) return std::string(v);  // `'a' 'b'` is not one plain literal
    if (c == '\\') {
      if (i + 2 >= v.size()) return std::string(v);  // the closing quote is escaped
      bool keep = false;
      c = unescape(v[++i], keep);
      if (keep) out += '\\';
    }
    out += c;
  }
  return out;
}

class IniParser {
 public:
  explicit IniParser(const std::string& origin) : builder_(origin) {}
  Result<Inventory> run(std::string_view text);

 private:
  Status line(std::string_view text, int number);
  Status section_header(std::string_view text, int number);
  Status host_line(std::string_view text, int number);
  Status child_line(std::string_view text, int number);
  Status var_line(std::string_view text, int number);

  InventoryBuilder builder_;
  Section section_ = Section::Hosts;
  std::string group_ = "ungrouped";
  // Ansible rejects [g:vars] when g is never declared by [g] or [g:children].
  std::set<std::string, std::less<>> declared_{"all", "ungrouped"};
  std::vector<std::pair<std::string, int>> vars_sections_;
};

Result<Inventory> IniParser::run(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
  int number = 0;
  for (std::size_t pos = 0; pos <= text.size();) {
    auto end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    if (auto status = line(trim(text.substr(pos, end - pos)), ++number); !status)
      return status.error();
    if (end + 1 < text.size() && text[end] == '\r' && text[end + 1] == '\n') ++end;
    pos = end + 1;
  }
  for (const auto& [group, at] : vars_sections_) {
    if (!declared_.contains(group)) {
      return builder_.error(
          at, "section [" + group + ":vars] is for group '" + group + "', which is never defined");
    }
  }
  return builder_.build();
}

Status IniParser::line(std::string_view text, int number) {
  if (text.empty() || text[0] == '#' || text[0] == ';') return {};
  if (text[0] == '[') return section_header(text, number);
  switch (section_) {
    case Section::Hosts:
      return host_line(text, number);
    case Section::Children:
      return child_line(text, number);
    case Section::Vars:
      return var_line(text, number);
  }
  return {};
}

Status IniParser::section_header(std::string_view text, int number) {
  auto close = text.find(']');
  if (close == std::string_view::npos) return builder_.error(number, "unterminated section header");
  auto rest = trim(text.substr(close + 1));
  if (!rest.empty() && rest[0] != '#' && rest[0] != ';') {
    return builder_.error(number, "unexpected text after section header: " + std::string(rest));
  }
  auto inner = text.substr(1, close - 1);
  auto colon = inner.find(':');
  auto name = inner.substr(0, colon);
  auto kind = colon == std::string_view::npos ? std::string_view("hosts") : inner.substr(colon + 1);
  if (name.empty() || std::any_of(name.begin(), name.end(), [](char c) { return is_space(c); })) {
    return builder_.error(number, "invalid section header [" + std::string(inner) +
                                      "]: a group name must be non-empty and without spaces");
  }
  if (kind != "hosts" && kind != "children" && kind != "vars") {
    return builder_.error(number, "unknown section type '" + std::string(kind) + "' in [" +
                                      std::string(inner) + "] (expected hosts, children or vars)");
  }
  section_ = kind == "hosts"      ? Section::Hosts
             : kind == "children" ? Section::Children
                                  : Section::Vars;
  group_ = std::string(name);
  builder_.add_group(group_);
  if (section_ == Section::Vars) {
    vars_sections_.emplace_back(group_, number);
  } else {
    declared_.insert(group_);
  }
  return {};
}

Status IniParser::host_line(std::string_view text, int number) {
  auto tokens = shell_split(text);
  if (!tokens) return builder_.error(number, "unterminated quote");
  if (tokens->empty()) return {};
  auto spec = expand_host_spec(tokens->front());
  if (!spec) return builder_.error(number, spec.error().message);
  std::vector<std::pair<std::string, std::string>> vars;
  for (std::size_t i = 1; i < tokens->size(); ++i) {
    const auto& token = (*tokens)[i];
    auto eq = token.find('=');
    if (eq == std::string::npos || eq == 0) {
      return builder_.error(number, "expected key=value host variable, got: " + token);
    }
    vars.emplace_back(token.substr(0, eq), literal_text(std::string_view(token).substr(eq + 1)));
  }
  for (const auto& name : spec->names) {
    builder_.add_host(name, group_);
    // An explicit ansible_port on the line wins over `host:port`, as in Ansible.
    if (!spec->port.empty()) builder_.set_host_var(name, "ansible_port", spec->port);
    for (const auto& [key, value] : vars) builder_.set_host_var(name, key, value);
  }
  return {};
}

Status IniParser::child_line(std::string_view text, int number) {
  auto end = text.find_first_of(" \t\v\f\r");
  auto child = text.substr(0, end);
  auto rest = end == std::string_view::npos ? std::string_view() : trim(text.substr(end));
  if ((!rest.empty() && rest[0] != '#' && rest[0] != ';') ||
      child.find_first_of(":]") != std::string_view::npos) {
    return builder_.error(number, "expected a group name, got: " + std::string(text));
  }
  declared_.insert(std::string(child));
  return builder_.add_child(group_, child, number);
}

Status IniParser::var_line(std::string_view text, int number) {
  // Everything after the first '=' is the value, comments included, as in Ansible.
  auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    return builder_.error(number, "expected key=value, got: " + std::string(text));
  }
  auto key = trim(text.substr(0, eq));
  if (key.empty()) return builder_.error(number, "empty variable name in: " + std::string(text));
  return builder_.set_group_var(group_, std::string(key), literal_text(trim(text.substr(eq + 1))),
                                number);
}

}  // namespace

Result<Inventory> Inventory::parse_ini(std::string_view text, const std::string& origin) {
  try {
    return IniParser(origin).run(text);
  } catch (const std::exception& e) {  // only allocation failure can get here
    return make_error(ErrorCode::Internal, origin + ": " + e.what());
  }
}

}  // namespace steward::inventory
