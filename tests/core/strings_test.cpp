#include "core/strings.hpp"

#include <gtest/gtest.h>

namespace steward {

TEST(Strings, SplitDropsEmptyPiecesAndSpaces) {
  EXPECT_EQ(split_nonempty(" web1, ,web2 ,", ','), (std::vector<std::string>{"web1", "web2"}));
  EXPECT_EQ(split_nonempty("/jobs//42/", '/'), (std::vector<std::string>{"jobs", "42"}));
  EXPECT_TRUE(split_nonempty("", ',').empty());
  EXPECT_TRUE(split_nonempty(",,,", ',').empty());
}

// Expected values are what Python's bytes.decode("utf-8", "replace") gives.
TEST(Utf8, IllFormedSequencesBecomeOneReplacementPerMaximalSubpart) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(to_valid_utf8("ok"), "ok");
  EXPECT_EQ(to_valid_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(to_valid_utf8("\xFF"), fffd);
  EXPECT_EQ(to_valid_utf8("a\xE2\x82"), "a" + fffd);
  EXPECT_EQ(to_valid_utf8("\xE2\x82" "A"), fffd + "A");
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), fffd + fffd + fffd);          // a surrogate
  EXPECT_EQ(to_valid_utf8("\xC0\xAF"), fffd + fffd);                     // overlong
  EXPECT_EQ(to_valid_utf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // past U+10FFFF
  EXPECT_EQ(to_valid_utf8("\xE0\x80\x80"), fffd + fffd + fffd);
  EXPECT_EQ(to_valid_utf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Utf8, ValidityCheck) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));
  EXPECT_FALSE(is_valid_utf8("\x80"));
}

TEST(Utf8ChunkAligner, HoldsBackACharacterSplitBetweenReads) {
  Utf8ChunkAligner aligner;
  // "é" is C3 A9; "😀" is F0 9F 98 80.
  EXPECT_EQ(aligner.take("caf\xC3"), "caf");
  EXPECT_EQ(aligner.take("\xA9!"), "\xC3\xA9!");
  EXPECT_EQ(aligner.take("\xF0\x9F"), "");
  EXPECT_EQ(aligner.take("\x98"), "");
  EXPECT_EQ(aligner.take("\x80" "a"), "\xF0\x9F\x98\x80" "a");
  EXPECT_EQ(aligner.rest(), "");
}

TEST(Utf8ChunkAligner, PassesInvalidBytesOnAndKeepsAnUnfinishedEnd) {
  Utf8ChunkAligner aligner;
  EXPECT_EQ(aligner.take("a\xFF"), "a\xFF");      // never valid: not held
  EXPECT_EQ(aligner.take("\xC3" "b"), "\xC3" "b");  // broken by the next byte: not held
  EXPECT_EQ(aligner.take("\xE2\x82"), "");
  EXPECT_EQ(aligner.rest(), "\xE2\x82");          // the end of the output, as it was
  EXPECT_EQ(aligner.take("plain"), "plain");
}

TEST(ConstantTimeEqual, ComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equal("Bearer abc", "Bearer abc"));
  EXPECT_FALSE(constant_time_equal("Bearer abc", "Bearer abd"));
  EXPECT_FALSE(constant_time_equal("Bearer ab", "Bearer abc"));
}

TEST(Strings, ParseFlagReadsExedSpellingsInAnyCase) {
  for (const char* yes : {"1", "true", "True", "TRUE", "yes", "Yes", "YES"}) EXPECT_EQ(parse_flag(yes), true) << yes;
  for (const char* no : {"", "0", "false", "False", "no", "No", "NO"}) EXPECT_EQ(parse_flag(no), false) << no;
  for (const char* other : {"2", "on", "off", "y", "n", "truee", " true", "-1"})
    EXPECT_EQ(parse_flag(other), std::nullopt) << other;
}

}  // namespace steward
