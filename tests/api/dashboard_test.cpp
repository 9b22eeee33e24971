// The dashboard's embedded files and the rules that serve them.
#include "api/http/dashboard.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace steward::api::http {
namespace {

TEST(DashboardAssets, HoldThePageItsScriptsAndTheLibraries) {
  for (const char* path : {"/ui/index.html", "/ui/app.js", "/ui/api.js", "/ui/style.css", "/ui/pages/job.js",
                           "/ui/vendor/xterm.js", "/ui/vendor/xterm.css", "/ui/vendor/addon-fit.js",
                           "/ui/vendor/chart.min.js"}) {
    const WebAsset* asset = find_asset(web_assets(), path);
    ASSERT_NE(asset, nullptr) << path;
    EXPECT_FALSE(asset->bytes.empty()) << path;
  }
  EXPECT_NE(find_asset(web_assets(), kDashboardIndex)->bytes.find("<script type=\"module\" src=\"/ui/app.js\">"),
            std::string_view::npos);
  // The bytes are the files' own, whole: xterm.js is a UMD bundle of some 480 KB.
  EXPECT_GT(find_asset(web_assets(), "/ui/vendor/xterm.js")->bytes.size(), 100000u);
  EXPECT_TRUE(find_asset(web_assets(), "/ui/index.html")->bytes.ends_with("</html>\n"));
}

TEST(DashboardAssets, CarryTheirContentTypesAndDistinctETags) {
  std::set<std::string_view> etags;
  for (const auto& asset : web_assets()) {
    EXPECT_TRUE(asset.path.starts_with("/ui/")) << asset.path;
    std::string_view expected = "text/html; charset=utf-8";
    if (asset.path.ends_with(".js")) expected = "text/javascript; charset=utf-8";
    if (asset.path.ends_with(".css")) expected = "text/css; charset=utf-8";
    EXPECT_EQ(asset.content_type, expected) << asset.path;
    EXPECT_TRUE(asset.etag.starts_with('"') && asset.etag.ends_with('"') && asset.etag.size() == 22) << asset.etag;
    EXPECT_TRUE(etags.insert(asset.etag).second) << asset.path << ": same ETag as another file";
  }
}

TEST(DashboardAssets, UnknownPathsAndDirectoriesAreNone) {
  EXPECT_EQ(find_asset(web_assets(), "/ui/"), nullptr);
  EXPECT_EQ(find_asset(web_assets(), "/ui/pages"), nullptr);
  EXPECT_EQ(find_asset(web_assets(), "/ui/pages/"), nullptr);
  EXPECT_EQ(find_asset(web_assets(), "/ui/nothing.js"), nullptr);
  EXPECT_EQ(find_asset(web_assets(), "/ui/../CMakeLists.txt"), nullptr);
  EXPECT_EQ(find_asset(web_assets(), "/ui/package-lock.json"), nullptr);
}

TEST(Dashboard, BrowsersPreferHtmlApiClientsJson) {
  EXPECT_TRUE(prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"));
  EXPECT_TRUE(prefers_html("text/html"));
  EXPECT_TRUE(prefers_html("application/json;q=0.5, text/html"));
  EXPECT_FALSE(prefers_html(""));
  EXPECT_FALSE(prefers_html("*/*"));
  EXPECT_FALSE(prefers_html("application/json"));
  EXPECT_FALSE(prefers_html("text/html, application/json"));  // a tie goes to the API
  EXPECT_FALSE(prefers_html("text/html;q=0, */*"));
  EXPECT_FALSE(prefers_html("text/html;q=0.5, */*"));
  EXPECT_TRUE(prefers_html("TEXT/HTML; q=0.9, */*; q=0.1"));
  EXPECT_FALSE(prefers_html("text/html;q=garbage"));
}

TEST(Dashboard, ETagsMatchAsIfNoneMatchNamesThem) {
  EXPECT_TRUE(etag_matches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(etag_matches("\"x\", W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(etag_matches("*", "\"abc\""));
  EXPECT_FALSE(etag_matches("", "\"abc\""));
  EXPECT_FALSE(etag_matches("\"abd\"", "\"abc\""));
}

TEST(Dashboard, PolicyAllowsNoInlineScriptNorForeignOrigin) {
  const std::string policy(kDashboardPolicy);
  EXPECT_NE(policy.find("script-src 'self';"), std::string::npos);
  EXPECT_NE(policy.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(policy.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(policy.find("http"), std::string::npos);
  EXPECT_EQ(policy.find("unsafe-eval"), std::string::npos);
  EXPECT_NE(policy.find("style-src-attr 'none'"), std::string::npos);
}

}  // namespace
}  // namespace steward::api::http
