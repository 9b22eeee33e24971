#include "api/http/http_audit.hpp"

#include <gtest/gtest.h>

namespace steward::api::http {
namespace {

using boost::beast::http::verb;
using auth::Role;

TEST(HttpAudit, StateChangingMethodsAndOperateGetsAreAudited) {
  for (verb method : {verb::post, verb::put, verb::patch, verb::delete_}) {
    EXPECT_TRUE(audited(method, Role::Read, true));
    EXPECT_TRUE(audited(method, Role::Admin, false)) << "a request to no route is recorded too";
  }
  EXPECT_TRUE(audited(verb::get, Role::Operate, true)) << "GET /execute?cmd= runs a command";
  EXPECT_FALSE(audited(verb::get, Role::Read, true));
  EXPECT_FALSE(audited(verb::get, Role::Admin, true)) << "GET /tokens, GET /audit only read";
  EXPECT_FALSE(audited(verb::get, std::nullopt, true));
  EXPECT_FALSE(audited(verb::get, Role::Admin, false));
  EXPECT_FALSE(audited(verb::head, Role::Operate, false));
}

TEST(HttpAudit, TargetsComeFromTheBodyElseTheQuery) {
  EXPECT_EQ(requested_targets(R"({"targets": ["web1", "db*,x"], "cmd": "rm -rf"})", std::nullopt),
            (std::vector<std::string>{"web1", "db*", "x"}));
  EXPECT_EQ(requested_targets(R"({"target": "a,b"})", std::nullopt), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(requested_targets(R"({"targets": [1, "c"]})", std::nullopt), (std::vector<std::string>{"c"}));
  EXPECT_EQ(requested_targets("", std::string("h1,h2")), (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(requested_targets("not json", std::string("h1")), (std::vector<std::string>{"h1"}));
  EXPECT_EQ(requested_targets(R"(["targets"])", std::nullopt), std::vector<std::string>{});
  EXPECT_EQ(requested_targets(R"({"password": "x"})", std::nullopt), std::vector<std::string>{});
}

TEST(HttpAudit, FilterDefaultsAndValues) {
  auto none = parse_audit_filter({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->limit, 100u);
  EXPECT_FALSE(none->who || none->target || none->action || none->since || none->until);

  auto all = parse_audit_filter({{"who", "ci"}, {"target", "web1"}, {"action", "POST /execute"},
                                 {"since", "1700000000.5"}, {"until", "1800000000"}, {"limit", "1000"}});
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(*all->who, "ci");
  EXPECT_EQ(*all->target, "web1");
  EXPECT_EQ(*all->action, "POST /execute");
  EXPECT_EQ(*all->since, 1700000000.5);
  EXPECT_EQ(*all->until, 1800000000.0);
  EXPECT_EQ(all->limit, 1000u);
}

TEST(HttpAudit, BadFilterValuesNameTheParameter) {
  const std::map<std::string, std::string> bad[] = {
      {{"limit", "0"}},     {{"limit", "1001"}},     {{"limit", "-1"}},   {{"limit", "10x"}},
      {{"limit", ""}},      {{"since", "yesterday"}}, {{"since", ""}},     {{"until", "nan"}},
      {{"until", "inf"}},   {{"who", ""}},            {{"action", ""}},    {{"target", ""}},
      {{"limit", "99999999999999999999999"}}};
  for (const auto& query : bad) {
    auto parsed = parse_audit_filter(query);
    ASSERT_FALSE(parsed.ok()) << query.begin()->first << "=" << query.begin()->second;
    EXPECT_EQ(parsed.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(parsed.error().message.find(query.begin()->first), std::string::npos) << parsed.error().message;
  }
}

}  // namespace
}  // namespace steward::api::http
