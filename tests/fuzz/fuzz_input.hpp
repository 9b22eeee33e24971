#pragma once
// What every harness needs: the libFuzzer entry point's bytes as text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace steward::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace steward::fuzz
