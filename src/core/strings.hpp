#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steward {

// The non-empty pieces of `text` between separators, each without
// surrounding spaces.
std::vector<std::string> split_nonempty(std::string_view text, char separator);

// `text` without leading and trailing whitespace.
std::string trim(std::string_view text);

// A boolean as EXEd's clients spell it in query strings and bodies: 1, true,
// yes or 0, false, no, in any case; empty reads as false, as EXEd read it.
// Nullopt for anything else.
std::optional<bool> parse_flag(std::string_view text);

// parse_flag's spellings, for error messages.
inline constexpr const char* kFlagSpellings = "1/true/yes or 0/false/no (any case)";

}  // namespace steward
