#pragma once
// The dashboard's files as compiled into the binary (cmake/EmbedAssets.cmake
// generates web_assets()): web/ itself, xterm.js and Chart.js.
#include <span>
#include <string_view>

namespace steward::api::http {

struct WebAsset {
  std::string_view path;          // "/ui/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view etag;          // "\"<20 hex digits of its SHA-256>\""
  std::string_view bytes;
};

std::span<const WebAsset> web_assets();

}  // namespace steward::api::http
