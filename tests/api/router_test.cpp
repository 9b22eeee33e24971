#include "api/http/router.hpp"

#include <gtest/gtest.h>

namespace steward::api::http {
namespace {

using beast::http::verb;

// A handler that says which route it is, so a match can be identified without running it.
struct Tagged {
  int id;
  boost::asio::awaitable<void> operator()(Exchange&) const { co_return; }
};

int tag_of(const Router::Match& match) {
  if (!match.handler) return -1;
  const Tagged* tagged = match.handler->target<Tagged>();
  return tagged ? tagged->id : -2;
}

// The routes these tests add, each with a role (Router::add wants one).
constexpr RouteRole kTestRoles[] = {
    {verb::get, "/jobs", auth::Role::Read},          {verb::get, "/jobs/:jid", auth::Role::Read},
    {verb::delete_, "/jobs/:jid", auth::Role::Operate}, {verb::post, "/jobs/:jid", auth::Role::Operate},
    {verb::get, "/jobs/:jid/events", kPublic},      {verb::post, "/ping", auth::Role::Operate},
    {verb::get, "/ping", auth::Role::Operate},       {verb::post, "/tasks", auth::Role::Operate},
    {verb::get, "/conditions/:id/values/:kind", auth::Role::Admin},
    {verb::post, "/items/:a", auth::Role::Read},     {verb::get, "/items/:b", auth::Role::Read},
};

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add(verb::get, "/jobs", Tagged{1});
    router_.add(verb::get, "/jobs/:jid", Tagged{2});
    router_.add(verb::delete_, "/jobs/:jid", Tagged{3});
    router_.add(verb::get, "/jobs/:jid/events", Tagged{4});
    router_.add(verb::post, "/ping", Tagged{5});
    router_.add(verb::get, "/ping", Tagged{6});
    router_.add(verb::post, "/tasks", Tagged{7});
    router_.add(verb::get, "/conditions/:id/values/:kind", Tagged{8});
  }
  Router router_{kTestRoles};
};

TEST_F(RouterTest, MatchesLiteralPaths) {
  auto match = router_.find(verb::get, "/jobs");
  EXPECT_EQ(tag_of(match), 1);
  EXPECT_TRUE(match.captures.empty());
  EXPECT_EQ(tag_of(router_.find(verb::post, "/ping")), 5);
  EXPECT_EQ(tag_of(router_.find(verb::get, "/ping")), 6) << "the method picks between routes on one path";
}

TEST_F(RouterTest, CapturesNamedSegments) {
  auto match = router_.find(verb::get, "/jobs/20260102030405060708");
  EXPECT_EQ(tag_of(match), 2);
  EXPECT_EQ(match.captures, (std::map<std::string, std::string>{{"jid", "20260102030405060708"}}));

  auto events = router_.find(verb::get, "/jobs/abc/events");
  EXPECT_EQ(tag_of(events), 4);
  EXPECT_EQ(events.captures.at("jid"), "abc");

  auto deleted = router_.find(verb::delete_, "/jobs/xyz");
  EXPECT_EQ(tag_of(deleted), 3);
  EXPECT_EQ(deleted.captures.at("jid"), "xyz");

  auto two = router_.find(verb::get, "/conditions/c1/values/latest");
  EXPECT_EQ(tag_of(two), 8);
  EXPECT_EQ(two.captures, (std::map<std::string, std::string>{{"id", "c1"}, {"kind", "latest"}}));
}

TEST_F(RouterTest, EmptySegmentsAreIgnored) {
  EXPECT_EQ(tag_of(router_.find(verb::get, "/jobs/")), 1);
  EXPECT_EQ(tag_of(router_.find(verb::get, "//jobs")), 1);
  auto match = router_.find(verb::get, "/jobs//j1/");
  EXPECT_EQ(tag_of(match), 2);
  EXPECT_EQ(match.captures.at("jid"), "j1");
}

TEST_F(RouterTest, UnknownPathIsNotKnown) {
  for (const char* path : {"/nothing", "/", "", "/jobs/j1/events/extra", "/job", "/jobsx", "/ping/1"}) {
    auto match = router_.find(verb::get, path);
    EXPECT_EQ(match.handler, nullptr) << path;
    EXPECT_FALSE(match.path_known) << path;
    EXPECT_TRUE(match.captures.empty()) << path;
  }
}

TEST_F(RouterTest, MethodMismatchSaysThePathIsKnown) {
  auto post_job = router_.find(verb::post, "/jobs/j1");
  EXPECT_EQ(post_job.handler, nullptr);
  EXPECT_TRUE(post_job.path_known) << "405, not 404";

  auto delete_ping = router_.find(verb::delete_, "/ping");
  EXPECT_EQ(delete_ping.handler, nullptr);
  EXPECT_TRUE(delete_ping.path_known);

  auto get_tasks = router_.find(verb::get, "/tasks");
  EXPECT_EQ(get_tasks.handler, nullptr);
  EXPECT_TRUE(get_tasks.path_known);

  // What the 405's Allow header lists: every method of the path, once each.
  EXPECT_EQ(post_job.allowed, "GET, DELETE");
  EXPECT_EQ(delete_ping.allowed, "POST, GET");
  EXPECT_EQ(get_tasks.allowed, "POST");
}

TEST_F(RouterTest, HeadIsAnsweredLikeGet) {
  auto head = router_.find(verb::head, "/jobs/j9");
  EXPECT_EQ(tag_of(head), 2);
  EXPECT_EQ(head.captures.at("jid"), "j9");
  EXPECT_EQ(tag_of(router_.find(verb::head, "/ping")), 6);

  auto head_post_only = router_.find(verb::head, "/tasks");
  EXPECT_EQ(head_post_only.handler, nullptr) << "HEAD falls back to GET only";
  EXPECT_TRUE(head_post_only.path_known);
}

TEST(Router, FirstMatchingRouteWinsAndCapturesDoNotLeakFromMisses) {
  Router router(kTestRoles);
  router.add(verb::post, "/items/:a", Tagged{1});
  router.add(verb::get, "/items/:b", Tagged{2});
  auto match = router.find(verb::get, "/items/x");
  EXPECT_EQ(tag_of(match), 2);
  EXPECT_EQ(match.captures, (std::map<std::string, std::string>{{"b", "x"}}));
}

TEST(Router, EmptyRouterFindsNothing) {
  Router router;
  auto match = router.find(verb::get, "/jobs");
  EXPECT_EQ(match.handler, nullptr);
  EXPECT_FALSE(match.path_known);
}

TEST_F(RouterTest, RefusesTheSameRouteTwice) {
  EXPECT_THROW(router_.add(verb::get, "/jobs/:id", Tagged{9}), std::logic_error);
  EXPECT_EQ(tag_of(router_.find(verb::get, "/jobs/abc")), 2);  // the first stays
  router_.add(verb::post, "/jobs/:jid", Tagged{10});          // another method is another route
  EXPECT_EQ(tag_of(router_.find(verb::post, "/jobs/abc")), 10);
}

TEST_F(RouterTest, AMatchCarriesItsRoutesRole) {
  EXPECT_EQ(router_.find(verb::get, "/jobs/abc").role, auth::Role::Read);
  EXPECT_EQ(router_.find(verb::delete_, "/jobs/abc").role, auth::Role::Operate);
  EXPECT_EQ(router_.find(verb::head, "/jobs/abc").role, auth::Role::Read) << "HEAD is checked as GET";
  EXPECT_EQ(router_.find(verb::get, "/jobs/abc/events").role, kPublic);
  EXPECT_EQ(router_.find(verb::get, "/conditions/c/values/latest").role, auth::Role::Admin);
}

TEST(Router, AMissWantsTheHighestRole) {
  Router router(kTestRoles);
  EXPECT_EQ(router.find(verb::get, "/nowhere").role, auth::Role::Admin) << "nothing unmatched is public";
}

TEST(Router, RefusesARouteWithoutARole) {
  Router router(kTestRoles);
  try {
    router.add(verb::get, "/unlisted", Tagged{1});
    FAIL() << "a route missing from the role table was accepted";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("GET /unlisted"), std::string::npos) << e.what();
  }
  EXPECT_EQ(router.find(verb::get, "/unlisted").handler, nullptr);
}

}  // namespace
}  // namespace steward::api::http

namespace steward::api::http {
namespace {

constexpr RouteRole kFileRoles[] = {
    {verb::put, "/files/*path", auth::Role::Operate},
    {verb::get, "/files/*path", auth::Role::Operate},
    {verb::get, "/files", auth::Role::Read},
};

TEST(RouterRest, ARestCaptureTakesEverySegmentLeft) {
  Router router{kFileRoles};
  router.add_streamed(verb::put, "/files/*path", Tagged{1});
  router.add(verb::get, "/files/*path", Tagged{2});
  router.add(verb::get, "/files", Tagged{3});
  auto nested = router.find(verb::put, "/files/a/b/c.txt");
  EXPECT_EQ(tag_of(nested), 1);
  EXPECT_EQ(nested.captures.at("path"), "a/b/c.txt");
  EXPECT_TRUE(nested.streams_body);
  auto one = router.find(verb::get, "/files/c.txt");
  EXPECT_EQ(tag_of(one), 2);
  EXPECT_EQ(one.captures.at("path"), "c.txt");
  EXPECT_FALSE(one.streams_body);
  // The capture needs one segment at least; "/files" alone is its own route.
  EXPECT_EQ(tag_of(router.find(verb::get, "/files")), 3);
  EXPECT_EQ(tag_of(router.find(verb::put, "/files")), -1);
}

TEST(RouterRest, ARestCaptureMustBeLast) {
  constexpr RouteRole roles[] = {{verb::get, "/files/*path/x", auth::Role::Read}};
  Router router{roles};
  EXPECT_THROW(router.add(verb::get, "/files/*path/x", Tagged{1}), std::logic_error);
}

}  // namespace
}  // namespace steward::api::http
