#include "core/strings.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace steward {

std::vector<std::string> split_nonempty(std::string_view text, char separator) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(separator, start);
    auto piece = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    while (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    while (!piece.empty() && piece.back() == ' ') piece.remove_suffix(1);
    if (!piece.empty()) out.emplace_back(piece);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::string trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return std::string(text.substr(first, text.find_last_not_of(kSpace) - first + 1));
}


namespace {

// The length of the well-formed sequence starting at `at`, or, negated, the
// length of the maximal ill-formed subpart to replace (Unicode 15, 3.9, table 3-7).
int sequence_length(std::string_view text, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  int length;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return -1;
  }
  for (int i = 1; i < length; ++i) {
    if (at + i >= text.size()) return -i;
    unsigned char next = byte(at + i);
    bool fits = i == 1 ? next >= low && next <= high : next >= 0x80 && next <= 0xBF;
    if (!fits) return -i;
  }
  return length;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    int length = sequence_length(text, at);
    if (length < 0) return false;
    at += static_cast<std::size_t>(length);
  }
  return true;
}

std::string to_valid_utf8(std::string text) {
  if (is_valid_utf8(text)) return text;
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t at = 0; at < text.size();) {
    int length = sequence_length(text, at);
    if (length > 0) {
      out.append(text, at, static_cast<std::size_t>(length));
      at += static_cast<std::size_t>(length);
    } else {
      out += "\xEF\xBF\xBD";
      at += static_cast<std::size_t>(-length);
    }
  }
  return out;
}

std::string Utf8ChunkAligner::take(std::string_view data) {
  std::string out = std::exchange(held_, {});
  out.append(data);
  // Find the start of the last character: at most 3 continuation bytes back.
  std::size_t start = out.size();
  for (int back = 0; back < 4 && start > 0; ++back) {
    --start;
    if ((static_cast<unsigned char>(out[start]) & 0xC0) != 0x80) break;
  }
  if (start >= out.size()) return out;
  // A multi-byte lead whose check runs out of text (not into a bad byte) is
  // the start of a character whose remaining bytes have not come yet.
  const unsigned char lead = static_cast<unsigned char>(out[start]);
  const bool multibyte_lead = lead >= 0xC2 && lead <= 0xF4;
  if (multibyte_lead && sequence_length(out, start) == -static_cast<int>(out.size() - start)) {
    held_ = out.substr(start);
    out.resize(start);
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::optional<bool> parse_flag(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  constexpr std::array<std::string_view, 3> kTrue{"1", "true", "yes"};
  constexpr std::array<std::string_view, 4> kFalse{"", "0", "false", "no"};
  if (std::find(kTrue.begin(), kTrue.end(), lower) != kTrue.end()) return true;
  if (std::find(kFalse.begin(), kFalse.end(), lower) != kFalse.end()) return false;
  return std::nullopt;
}

}  // namespace steward
