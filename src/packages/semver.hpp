#pragma once
// Semantic versions and the version requirements Deputy uses (Cargo's syntax
// and rules, as the Rust `semver` crate implements them), so a Ranger
// `Source.version` picks the same package here as upstream.
//
//   ""  and  "*"        any release (not a pre-release)
//   "1.2" = "^1.2"      >=1.2.0, <2.0.0   (caret: the left-most non-zero part stays)
//   "^0.2.3"            >=0.2.3, <0.3.0;   "^0.0.3" only 0.0.3
//   "~1.2.3"            >=1.2.3, <1.3.0;   "~1" >=1.0.0, <2.0.0
//   "=1.2.3", ">1", ">=1.0, <2.0", "1.*", "1.2.x"
//
// A pre-release version (1.2.3-beta.1) only matches a requirement with a
// comparator naming a pre-release of the same major.minor.patch.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace steward::packages::semver {

struct Version {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::vector<std::string> pre;    // dot-separated identifiers; empty for a release
  std::vector<std::string> build;  // ignored by requirements; orders last

  std::string to_string() const;
};

// MAJOR.MINOR.PATCH[-PRE][+BUILD], no leading zeros in numbers. InvalidArgument saying what is wrong.
Result<Version> parse_version(std::string_view text);

// Negative, zero or positive as `a` sorts before, with or after `b`: by
// precedence (a release after its pre-releases), then by build metadata.
int compare(const Version& a, const Version& b);
inline bool operator<(const Version& a, const Version& b) { return compare(a, b) < 0; }

class Requirement {
 public:
  // Wildcard: no operator and a `*` part ("1.*"), which matches like `=`.
  enum class Op { Exact, Greater, GreaterEq, Less, LessEq, Tilde, Caret, Wildcard };
  struct Comparator {
    Op op = Op::Caret;
    std::uint64_t major = 0;
    std::optional<std::uint64_t> minor;  // none: not written, or a wildcard
    std::optional<std::uint64_t> patch;
    std::vector<std::string> pre;
  };

  // Comma-separated comparators; "" or "*" alone is any release. InvalidArgument saying what is wrong.
  static Result<Requirement> parse(std::string_view text);

  bool matches(const Version& version) const;
  // All must match; none means any release.
  const std::vector<Comparator>& comparators() const { return comparators_; }

 private:
  std::vector<Comparator> comparators_;
};

}  // namespace steward::packages::semver
