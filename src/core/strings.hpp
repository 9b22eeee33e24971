#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steward {

// The non-empty pieces of `text` between separators, each without
// surrounding spaces.
std::vector<std::string> split_nonempty(std::string_view text, char separator);

// `text` without leading and trailing whitespace.
std::string trim(std::string_view text);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or
// code points past U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `text` with every ill-formed sequence replaced by U+FFFD, one per maximal
// ill-formed subpart (as Unicode recommends and Python's decode does). Output
// a program prints may be binary; every protocol steward speaks needs UTF-8.
std::string to_valid_utf8(std::string text);

// Cuts a byte stream into chunks that end on UTF-8 character boundaries: a
// character split between two reads is held back until its last byte comes,
// so each chunk can be repaired and sent on its own without mangling it.
class Utf8ChunkAligner {
 public:
  // The bytes of `held + data` up to the last complete character.
  std::string take(std::string_view data);
  // What is still held back (an incomplete character at the very end).
  std::string rest() { return std::exchange(held_, {}); }

 private:
  std::string held_;
};

// Compares without leaking where the first difference is (tokens).
bool constant_time_equal(std::string_view a, std::string_view b);

// A boolean as EXEd's clients spell it in query strings and bodies: 1, true,
// yes or 0, false, no, in any case; empty reads as false, as EXEd read it.
// Nullopt for anything else.
std::optional<bool> parse_flag(std::string_view text);

// parse_flag's spellings, for error messages.
inline constexpr const char* kFlagSpellings = "1/true/yes or 0/false/no (any case)";

}  // namespace steward
