#include "packages/semver.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace steward::packages::semver {
namespace {

Version v(const std::string& text) {
  auto version = parse_version(text);
  EXPECT_TRUE(version.ok()) << text << ": " << version.error().message;
  return version ? *version : Version{};
}

Requirement req(const std::string& text) {
  auto requirement = Requirement::parse(text);
  EXPECT_TRUE(requirement.ok()) << "'" << text << "': " << requirement.error().message;
  return requirement ? *requirement : Requirement{};
}

// Every listed version matches `requirement` and every unlisted one does not.
void expect_matches(const std::string& requirement, const std::vector<std::string>& yes,
                    const std::vector<std::string>& no) {
  Requirement parsed = req(requirement);
  for (const auto& version : yes) EXPECT_TRUE(parsed.matches(v(version))) << requirement << " should match " << version;
  for (const auto& version : no) EXPECT_FALSE(parsed.matches(v(version))) << requirement << " should not match " << version;
}

std::string parse_error(const std::string& requirement) {
  auto parsed = Requirement::parse(requirement);
  if (parsed) return "";
  EXPECT_EQ(parsed.error().code, ErrorCode::InvalidArgument);
  return parsed.error().message;
}

TEST(SemverVersionTest, ParsesReleasesPreReleasesAndBuilds) {
  Version plain = v("1.22.333");
  EXPECT_EQ(plain.major, 1u);
  EXPECT_EQ(plain.minor, 22u);
  EXPECT_EQ(plain.patch, 333u);
  EXPECT_TRUE(plain.pre.empty() && plain.build.empty());
  Version full = v("1.2.3-beta.11+build.007");
  EXPECT_EQ(full.pre, (std::vector<std::string>{"beta", "11"}));
  EXPECT_EQ(full.build, (std::vector<std::string>{"build", "007"}));
  EXPECT_EQ(full.to_string(), "1.2.3-beta.11+build.007");
  EXPECT_EQ(v("0.0.0").to_string(), "0.0.0");
}

TEST(SemverVersionTest, RejectsWhatIsNotAVersion) {
  for (const char* text : {"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "v1.2.3", "1.2.3-", "1.2.3-a..b",
                           "1.2.3-01", "1.2.3+", "1.2.3 ", " 1.2.3", "1.2.x", "1.2.3-be$ta", "99999999999999999999.0.0"}) {
    auto parsed = parse_version(text);
    EXPECT_FALSE(parsed.ok()) << "'" << text << "' parsed";
    if (!parsed) {
      EXPECT_EQ(parsed.error().code, ErrorCode::InvalidArgument);
    }
  }
  EXPECT_NE(parse_version("01.2.3").error().message.find("leading zero"), std::string::npos);
  EXPECT_NE(parse_version("1.2").error().message.find("MAJOR.MINOR.PATCH"), std::string::npos);
}

TEST(SemverVersionTest, OrdersBySemverPrecedence) {
  // The example chain of semver.org, item 11, then releases numerically.
  std::vector<std::string> ordered{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                                   "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",      "1.0.0",
                                   "1.0.1",        "1.2.30",        "1.9.2",           "1.10.0",
                                   "2.0.0"};
  for (std::size_t i = 0; i + 1 < ordered.size(); ++i) {
    EXPECT_LT(compare(v(ordered[i]), v(ordered[i + 1])), 0) << ordered[i] << " < " << ordered[i + 1];
    EXPECT_GT(compare(v(ordered[i + 1]), v(ordered[i])), 0) << ordered[i + 1] << " > " << ordered[i];
  }
  EXPECT_EQ(compare(v("1.2.3-rc.1"), v("1.2.3-rc.1")), 0);
  // Build metadata does not change precedence; it only breaks the tie.
  EXPECT_LT(compare(v("1.2.3"), v("1.2.3+1")), 0);
  EXPECT_LT(compare(v("1.2.3+1"), v("1.2.3+2")), 0);
  EXPECT_LT(compare(v("1.2.3+2"), v("1.2.3+10")), 0);
  EXPECT_LT(compare(v("1.2.3+1"), v("1.2.3+01")), 0);
  EXPECT_LT(compare(v("1.2.3+9"), v("1.2.3+a")), 0);
  EXPECT_LT(compare(v("1.2.3+zzz"), v("1.2.4")), 0);
}

TEST(SemverRequirementTest, EmptyAndStarMatchEveryRelease) {
  for (const char* any : {"", "*", "x", "X", "  *  "}) {
    expect_matches(any, {"0.0.0", "0.1.0", "1.2.3", "99.0.0", "1.2.3+build"}, {"1.2.3-alpha"});
  }
}

TEST(SemverRequirementTest, CaretIsTheDefaultAndKeepsTheLeftMostNonZeroPart) {
  // Cargo's table: ^1.2.3 := >=1.2.3, <2.0.0 ... ^0 := >=0.0.0, <1.0.0.
  expect_matches("1.2.3", {"1.2.3", "1.2.4", "1.3.0", "1.99.99"}, {"1.2.2", "2.0.0", "0.9.0", "1.2.3-rc.1"});
  expect_matches("^1.2.3", {"1.2.3", "1.10.0"}, {"2.0.0", "1.2.2"});
  expect_matches("1.2", {"1.2.0", "1.2.9", "1.9.0"}, {"1.1.9", "2.0.0"});
  expect_matches("^1.2", {"1.2.0", "1.9.0"}, {"1.1.0", "2.0.0"});
  expect_matches("1", {"1.0.0", "1.9.9"}, {"0.9.9", "2.0.0"});
  expect_matches("^0.2.3", {"0.2.3", "0.2.9"}, {"0.2.2", "0.3.0", "1.0.0"});
  expect_matches("^0.2", {"0.2.0", "0.2.9"}, {"0.1.9", "0.3.0"});
  expect_matches("^0.0.3", {"0.0.3"}, {"0.0.2", "0.0.4", "0.1.0"});
  expect_matches("^0.0", {"0.0.0", "0.0.9"}, {"0.1.0"});
  expect_matches("^0", {"0.0.0", "0.9.9"}, {"1.0.0"});
  expect_matches("0.0", {"0.0.7"}, {"0.1.0"});
}

TEST(SemverRequirementTest, TildeAllowsPatchUpdates) {
  // ~1.2.3 := >=1.2.3, <1.3.0; ~1.2 := >=1.2.0, <1.3.0; ~1 := >=1.0.0, <2.0.0.
  expect_matches("~1.2.3", {"1.2.3", "1.2.9"}, {"1.2.2", "1.3.0", "2.0.0"});
  expect_matches("~1.2", {"1.2.0", "1.2.9"}, {"1.1.9", "1.3.0"});
  expect_matches("~1", {"1.0.0", "1.9.0"}, {"0.9.0", "2.0.0"});
  expect_matches("~0.2.3", {"0.2.3", "0.2.4"}, {"0.3.0"});
  expect_matches("~ 1.2.3", {"1.2.5"}, {"1.3.0"});
}

TEST(SemverRequirementTest, WildcardsFixTheWrittenParts) {
  // 1.* := >=1.0.0, <2.0.0; 1.2.* := >=1.2.0, <1.3.0.
  expect_matches("1.*", {"1.0.0", "1.9.9"}, {"0.9.0", "2.0.0"});
  expect_matches("1.x", {"1.5.0"}, {"2.0.0"});
  expect_matches("1.*.*", {"1.5.0"}, {"2.0.0"});
  expect_matches("1.2.*", {"1.2.0", "1.2.9"}, {"1.3.0", "1.1.0"});
  expect_matches("1.2.X", {"1.2.4"}, {"1.3.0"});
  expect_matches(">=1.*", {"1.0.0", "2.0.0"}, {"0.9.0"});
}

TEST(SemverRequirementTest, ComparisonsAndExactVersions) {
  expect_matches("=1.2.3", {"1.2.3", "1.2.3+build"}, {"1.2.4", "1.2.2", "1.2.3-rc.1"});
  expect_matches("=1.2", {"1.2.0", "1.2.7"}, {"1.3.0"});
  expect_matches("=1", {"1.0.0", "1.7.0"}, {"2.0.0"});
  expect_matches(">1.2.3", {"1.2.4", "2.0.0"}, {"1.2.3", "1.0.0"});
  expect_matches(">1.2", {"1.3.0"}, {"1.2.9", "1.2.0"});
  expect_matches(">1", {"2.0.0"}, {"1.9.9"});
  expect_matches(">= 1.2.0", {"1.2.0", "5.0.0"}, {"1.1.9"});
  expect_matches("<2", {"1.9.9", "0.0.1"}, {"2.0.0", "2.0.1"});
  expect_matches("<1.2.3", {"1.2.2"}, {"1.2.3", "1.2.3-rc.1"});
  expect_matches("<=1.2", {"1.2.9", "1.0.0"}, {"1.3.0"});
  expect_matches(">=1.0, <2.0", {"1.0.0", "1.99.0"}, {"0.9.9", "2.0.0"});
  expect_matches(">= 1.2, < 1.5", {"1.2.0", "1.4.9"}, {"1.5.0", "1.1.0"});
  expect_matches(">=1,<2", {"1.5.0"}, {"2.0.0"});
  expect_matches("1.2.3+ignored", {"1.2.3", "1.5.0"}, {"2.0.0"});
}

TEST(SemverRequirementTest, PreReleasesOnlyMatchWhenTheirVersionAsksForOne) {
  expect_matches(">=1.2.3-alpha", {"1.2.3-alpha", "1.2.3-beta", "1.2.3", "1.3.0"}, {"1.2.4-alpha", "1.2.3-0"});
  expect_matches("=1.2.3-rc.1", {"1.2.3-rc.1"}, {"1.2.3-rc.2", "1.2.3"});
  expect_matches("^1.2.3-rc.1", {"1.2.3-rc.1", "1.2.3-rc.2", "1.2.3", "1.9.0"}, {"1.3.0-rc.1", "2.0.0"});
  expect_matches("~1.2.3-beta", {"1.2.3-beta", "1.2.3-beta.2", "1.2.3", "1.2.4"}, {"1.2.3-alpha", "1.2.4-beta"});
  expect_matches(">1.0.0", {"1.0.1"}, {"1.0.1-rc.1", "2.0.0-alpha"});
  expect_matches("<2.0.0", {"1.9.9"}, {"2.0.0-rc.1", "1.5.0-rc.1"});
  expect_matches(">=1.0.0, <2.0.0-0", {"1.5.0"}, {"2.0.0-alpha", "1.5.0-alpha"});
  expect_matches("^0.0.3-beta", {"0.0.3-beta", "0.0.3"}, {"0.0.4", "0.0.4-beta"});
}

TEST(SemverRequirementTest, ParsesOperatorsIntoComparators) {
  auto parsed = req(">= 1.2, <2");
  ASSERT_EQ(parsed.comparators().size(), 2u);
  EXPECT_EQ(parsed.comparators()[0].op, Requirement::Op::GreaterEq);
  EXPECT_EQ(parsed.comparators()[0].minor.value_or(99), 2u);
  EXPECT_FALSE(parsed.comparators()[0].patch.has_value());
  EXPECT_EQ(parsed.comparators()[1].op, Requirement::Op::Less);
  EXPECT_EQ(req("1.*").comparators()[0].op, Requirement::Op::Wildcard);
  EXPECT_EQ(req("1.2").comparators()[0].op, Requirement::Op::Caret);
  EXPECT_TRUE(req("*").comparators().empty());
}

TEST(SemverRequirementTest, MalformedRequirementsSayWhatIsWrong) {
  EXPECT_NE(parse_error("abc").find("'a'"), std::string::npos);
  EXPECT_NE(parse_error(">=1.0 <2.0").find("comma"), std::string::npos);
  EXPECT_NE(parse_error("*, 1.0").find("only comparator"), std::string::npos);
  EXPECT_NE(parse_error("1.0, *").find("only comparator"), std::string::npos);
  EXPECT_NE(parse_error("1.*.3").find("wildcard"), std::string::npos);
  EXPECT_NE(parse_error("01.2").find("leading zero"), std::string::npos);
  EXPECT_NE(parse_error("1.2.3-").find("pre-release"), std::string::npos);
  EXPECT_NE(parse_error("1.0,").find("end"), std::string::npos);
  EXPECT_NE(parse_error("1.2-beta").find("comma"), std::string::npos);  // a pre-release needs all three numbers
  for (const char* bad : {"=", ">=", "~", "^", "v1.2", "1.2.3.4", ">=*", "==1.0", "1..2", "1.2.3-01",
                          "1.0 || 2.0", "*1", "**"}) {
    EXPECT_NE(parse_error(bad), "") << "'" << bad << "' parsed";
  }
  std::string many;
  for (int i = 0; i < 33; ++i) many += (i ? ", >=" : ">=") + std::to_string(i);
  EXPECT_NE(parse_error(many).find("32"), std::string::npos);
}

TEST(SemverRequirementTest, NewestMatchingVersionIsTheMaximumOfTheMatches) {
  std::vector<Version> present{v("1.0.0"), v("1.10.0"), v("1.9.2"), v("2.0.0"), v("2.1.0-beta.1"), v("0.9.0")};
  auto newest = [&present](const std::string& requirement) {
    Requirement parsed = req(requirement);
    std::vector<Version> matching;
    std::copy_if(present.begin(), present.end(), std::back_inserter(matching),
                 [&parsed](const Version& version) { return parsed.matches(version); });
    return matching.empty() ? std::string("none") : std::max_element(matching.begin(), matching.end())->to_string();
  };
  EXPECT_EQ(newest(""), "2.0.0");
  EXPECT_EQ(newest("1"), "1.10.0");
  EXPECT_EQ(newest("~1.9"), "1.9.2");
  EXPECT_EQ(newest("<1.10"), "1.9.2");
  EXPECT_EQ(newest("^0.9"), "0.9.0");
  EXPECT_EQ(newest(">=2.1.0-beta"), "2.1.0-beta.1");
  EXPECT_EQ(newest(">=3"), "none");
}

}  // namespace
}  // namespace steward::packages::semver
