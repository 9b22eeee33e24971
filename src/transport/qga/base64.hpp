#pragma once
// Standard base64 (RFC 4648, with padding), as qemu-ga carries every byte
// string: file chunks, stdin and captured output.
#include <optional>
#include <string>
#include <string_view>

namespace steward::transport::qga {

std::string base64_encode(std::string_view bytes);

// nullopt when `text` is not valid padded base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace steward::transport::qga
