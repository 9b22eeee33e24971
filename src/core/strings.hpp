#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace steward {

// The non-empty pieces of `text` between separators, each without
// surrounding spaces.
std::vector<std::string> split_nonempty(std::string_view text, char separator);

// `text` without leading and trailing whitespace.
std::string trim(std::string_view text);

}  // namespace steward
