#pragma once
// Serving the dashboard: which request gets its page, finding an embedded
// file, and the headers every dashboard response carries.
#include <span>
#include <string_view>

#include "api/http/web_assets.hpp"

namespace steward::api::http {

// The page the dashboard starts from, served at "/" to browsers.
inline constexpr std::string_view kDashboardIndex = "/ui/index.html";

// The Content-Security-Policy of every dashboard response. Styles are the
// one relaxation: xterm.js 6 (its DOM renderer) writes its theme colours and
// cell sizes into <style> elements it creates at run time and has no nonce
// hook; with style-src 'self' alone Chromium logs a violation for each and the
// terminal loses its colours. So <style> elements may be inline
// (style-src-elem), style="" attributes may not (style-src-attr 'none'; the
// CSSOM, element.style.x = ..., is not subject to CSP). style-src keeps
// 'unsafe-inline' only for browsers older than the -elem/-attr directives.
// Scripts stay 'self' only.
inline constexpr std::string_view kDashboardPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "style-src-elem 'self' 'unsafe-inline'; style-src-attr 'none'; connect-src 'self'; img-src 'self' data:; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// True when an Accept header ranks text/html above JSON (a browser's
// navigation): "/" then answers with the dashboard's page instead of
// {"name","version"}. "*/*", "application/json" or no header: JSON.
bool prefers_html(std::string_view accept);

// The file at `path` ("/ui/app.js") in `assets`; null when there is none
// (a directory, "/ui/", is none either).
const WebAsset* find_asset(std::span<const WebAsset> assets, std::string_view path);

// True when an If-None-Match header names `etag` (or is "*").
bool etag_matches(std::string_view if_none_match, std::string_view etag);

}  // namespace steward::api::http
