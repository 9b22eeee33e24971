#include "packages/semver.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace steward::packages::semver {
namespace {

// Cargo's limit, so a requirement Deputy refuses is refused here too.
constexpr std::size_t kMaxComparators = 32;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_identifier_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool all_digits(std::string_view text) { return std::all_of(text.begin(), text.end(), is_digit); }
bool is_wildcard(char c) { return c == '*' || c == 'x' || c == 'X'; }

std::string describe(char c) { return fmt::format("'{}'", c); }

// Pre-release identifiers: numbers numerically and before words, words in
// ASCII order, a longer list after its prefix.
int compare_pre(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty() || b.empty()) return a.empty() == b.empty() ? 0 : (a.empty() ? 1 : -1);
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    bool a_number = all_digits(a[i]), b_number = all_digits(b[i]);
    if (a_number != b_number) return a_number ? -1 : 1;
    int order = 0;
    if (a_number && a[i].size() != b[i].size()) order = a[i].size() < b[i].size() ? -1 : 1;
    else order = a[i].compare(b[i]);
    if (order != 0) return order < 0 ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

// Build metadata only breaks ties; numbers may have leading zeros here ("01" after "1").
int compare_build(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    bool a_number = all_digits(a[i]), b_number = all_digits(b[i]);
    if (a_number != b_number) return a_number ? -1 : 1;
    int order = 0;
    if (a_number) {
      std::string_view x = a[i], y = b[i];
      x.remove_prefix(std::min(x.find_first_not_of('0'), x.size()));
      y.remove_prefix(std::min(y.find_first_not_of('0'), y.size()));
      if (x.size() != y.size()) order = x.size() < y.size() ? -1 : 1;
      else if (x != y) order = x < y ? -1 : 1;
      else if (a[i].size() != b[i].size()) order = a[i].size() < b[i].size() ? -1 : 1;
    } else {
      order = a[i].compare(b[i]);
    }
    if (order != 0) return order < 0 ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

std::string joined(const std::vector<std::string>& parts) {
  return fmt::format("{}", fmt::join(parts, "."));
}

using Op = Requirement::Op;
using Comparator = Requirement::Comparator;

// A cursor over one version or requirement; errors say what was expected where.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  bool done() const { return pos_ == text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }
  bool take(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void skip_spaces() {
    while (peek() == ' ') ++pos_;
  }
  Error error(const std::string& problem) const { return make_error(ErrorCode::InvalidArgument, problem); }

  Error unexpected(const char* where) const {
    if (done()) return error(fmt::format("unexpected end while reading the {}", where));
    return error(fmt::format("unexpected character {} in the {}", describe(peek()), where));
  }

  Result<std::uint64_t> number(const char* where) {
    if (!is_digit(peek())) return unexpected(where);
    std::size_t start = pos_;
    std::uint64_t value = 0;
    while (is_digit(peek())) {
      auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
      if (value > (UINT64_MAX - digit) / 10) return error(fmt::format("the {} is too large", where));
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ - start > 1 && text_[start] == '0') return error(fmt::format("the {} has a leading zero", where));
    return value;
  }

  // Dot-separated identifiers after '-' or '+'.
  Result<std::vector<std::string>> identifiers(const char* where, bool numbers_without_leading_zero) {
    std::vector<std::string> parts;
    do {
      std::size_t start = pos_;
      while (is_identifier_char(peek())) ++pos_;
      std::string part(text_.substr(start, pos_ - start));
      if (part.empty()) return error(fmt::format("the {} has an empty part", where));
      if (numbers_without_leading_zero && part.size() > 1 && part[0] == '0' && all_digits(part))
        return error(fmt::format("the {} has a number with a leading zero ('{}')", where, part));
      parts.push_back(std::move(part));
    } while (take('.'));
    return parts;
  }

  Result<Version> version() {
    Version version;
    auto major = number("major version number");
    if (!major) return major.error();
    if (!take('.')) return unexpected("version after the major number (want MAJOR.MINOR.PATCH)");
    auto minor = number("minor version number");
    if (!minor) return minor.error();
    if (!take('.')) return unexpected("version after the minor number (want MAJOR.MINOR.PATCH)");
    auto patch = number("patch version number");
    if (!patch) return patch.error();
    version.major = *major, version.minor = *minor, version.patch = *patch;
    if (take('-')) {
      auto pre = identifiers("pre-release", true);
      if (!pre) return pre.error();
      version.pre = std::move(*pre);
    }
    if (take('+')) {
      auto build = identifiers("build metadata", false);
      if (!build) return build.error();
      version.build = std::move(*build);
    }
    if (!done()) return unexpected("version");
    return version;
  }

  Op op() {
    if (take('=')) return Op::Exact;
    if (take('>')) return take('=') ? Op::GreaterEq : Op::Greater;
    if (take('<')) return take('=') ? Op::LessEq : Op::Less;
    if (take('~')) return Op::Tilde;
    if (take('^')) return Op::Caret;
    return Op::Caret;  // Cargo's default
  }

  Result<Comparator> comparator() {
    Comparator c;
    std::size_t before = pos_;
    c.op = op();
    const bool written_op = pos_ != before;
    skip_spaces();
    auto major = number("major version number");
    if (!major) return major.error();
    c.major = *major;
    bool wildcard = false;
    if (take('.')) {
      if (is_wildcard(peek())) {
        ++pos_, wildcard = true;
      } else {
        auto minor = number("minor version number");
        if (!minor) return minor.error();
        c.minor = *minor;
      }
      if (take('.')) {
        if (is_wildcard(peek())) {
          ++pos_, wildcard = true;
        } else if (wildcard) {
          return error("a wildcard can only be followed by another wildcard");
        } else {
          auto patch = number("patch version number");
          if (!patch) return patch.error();
          c.patch = *patch;
        }
      }
    }
    if (wildcard && !written_op) c.op = Op::Wildcard;
    if (c.patch && take('-')) {
      auto pre = identifiers("pre-release", true);
      if (!pre) return pre.error();
      c.pre = std::move(*pre);
    }
    if (c.patch && take('+')) {
      auto build = identifiers("build metadata", false);  // allowed, and ignored, as Cargo does
      if (!build) return build.error();
    }
    skip_spaces();
    return c;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

bool matches_exact(const Comparator& c, const Version& v) {
  return v.major == c.major && (!c.minor || v.minor == *c.minor) && (!c.patch || v.patch == *c.patch) &&
         v.pre == c.pre;
}

// Whether v lies above (sign +1) or below (sign -1) c; a part c leaves out is
// neither, so ">1" means ">=2.0.0".
bool matches_beyond(const Comparator& c, const Version& v, int sign) {
  auto beyond = [sign](std::uint64_t mine, std::uint64_t theirs) { return sign > 0 ? mine > theirs : mine < theirs; };
  if (v.major != c.major) return beyond(v.major, c.major);
  if (!c.minor) return false;
  if (v.minor != *c.minor) return beyond(v.minor, *c.minor);
  if (!c.patch) return false;
  if (v.patch != *c.patch) return beyond(v.patch, *c.patch);
  int order = compare_pre(v.pre, c.pre);
  return sign > 0 ? order > 0 : order < 0;
}

// ~1.2.3: >=1.2.3, <1.3.0; ~1.2: >=1.2.0, <1.3.0; ~1: >=1.0.0, <2.0.0.
bool matches_tilde(const Comparator& c, const Version& v) {
  if (v.major != c.major || (c.minor && v.minor != *c.minor)) return false;
  if (c.patch && v.patch != *c.patch) return v.patch > *c.patch;
  return compare_pre(v.pre, c.pre) >= 0;
}

// The left-most non-zero part of c stays fixed: ^1.2.3 <2.0.0, ^0.2.3 <0.3.0,
// ^0.0.3 only 0.0.3; ^0 <1.0.0, ^0.0 <0.1.0.
bool matches_caret(const Comparator& c, const Version& v) {
  if (v.major != c.major) return false;
  if (!c.minor) return true;
  const std::uint64_t minor = *c.minor;
  if (!c.patch) return c.major > 0 ? v.minor >= minor : v.minor == minor;
  const std::uint64_t patch = *c.patch;
  if (c.major > 0) {
    if (v.minor != minor) return v.minor > minor;
    if (v.patch != patch) return v.patch > patch;
  } else if (minor > 0) {
    if (v.minor != minor) return false;
    if (v.patch != patch) return v.patch > patch;
  } else if (v.minor != minor || v.patch != patch) {
    return false;
  }
  return compare_pre(v.pre, c.pre) >= 0;
}

bool matches_comparator(const Comparator& c, const Version& v) {
  switch (c.op) {
    case Op::Exact:
    case Op::Wildcard: return matches_exact(c, v);
    case Op::Greater: return matches_beyond(c, v, 1);
    case Op::GreaterEq: return matches_exact(c, v) || matches_beyond(c, v, 1);
    case Op::Less: return matches_beyond(c, v, -1);
    case Op::LessEq: return matches_exact(c, v) || matches_beyond(c, v, -1);
    case Op::Tilde: return matches_tilde(c, v);
    case Op::Caret: return matches_caret(c, v);
  }
  return false;
}

}  // namespace

std::string Version::to_string() const {
  std::string text = fmt::format("{}.{}.{}", major, minor, patch);
  if (!pre.empty()) text += "-" + joined(pre);
  if (!build.empty()) text += "+" + joined(build);
  return text;
}

Result<Version> parse_version(std::string_view text) {
  if (text.empty()) return make_error(ErrorCode::InvalidArgument, "the version is empty");
  return Parser(text).version();
}

int compare(const Version& a, const Version& b) {
  for (auto [x, y] : {std::pair{a.major, b.major}, std::pair{a.minor, b.minor}, std::pair{a.patch, b.patch}}) {
    if (x != y) return x < y ? -1 : 1;
  }
  if (int order = compare_pre(a.pre, b.pre); order != 0) return order;
  return compare_build(a.build, b.build);
}

Result<Requirement> Requirement::parse(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n')) text.remove_suffix(1);
  Requirement requirement;
  if (text.empty()) return requirement;
  Parser parser(text);
  if (is_wildcard(parser.peek())) {
    parser.take(parser.peek());
    parser.skip_spaces();
    if (parser.done()) return requirement;
    if (parser.peek() == ',') return parser.error("a wildcard (*) must be the only comparator");
    return parser.error("unexpected " + describe(parser.peek()) + " after the wildcard");
  }
  while (true) {
    auto comparator = parser.comparator();
    if (!comparator) return comparator.error();
    requirement.comparators_.push_back(std::move(*comparator));
    if (parser.done()) return requirement;
    if (!parser.take(','))
      return parser.error("expected a comma between comparators, found " + describe(parser.peek()));
    parser.skip_spaces();
    if (is_wildcard(parser.peek())) return parser.error("a wildcard (*) must be the only comparator");
    if (requirement.comparators_.size() == kMaxComparators)
      return parser.error(fmt::format("more than {} comparators", kMaxComparators));
  }
}

bool Requirement::matches(const Version& version) const {
  for (const auto& comparator : comparators_) {
    if (!matches_comparator(comparator, version)) return false;
  }
  if (version.pre.empty()) return true;
  // A pre-release is only wanted when asked for by its own major.minor.patch.
  return std::any_of(comparators_.begin(), comparators_.end(), [&version](const Comparator& c) {
    return c.major == version.major && c.minor == version.minor && c.patch == version.patch && !c.pre.empty();
  });
}

}  // namespace steward::packages::semver
