// Every REST route the server wires has a role in api/http/route_roles.cpp,
// and every gRPC method one in api/grpc/methods.cpp: the real route and
// method tables are built here, over real services, and checked.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

#include "actions/action_log.hpp"
#include "actions/router.hpp"
#include "api/auth/token_registry.hpp"
#include "api/grpc/methods.hpp"
#include "api/http/routes.hpp"
#include "core/clock.hpp"
#include "core/loop_watchdog.hpp"
#include "inventory/inventory.hpp"
#include "jobs/job_service.hpp"
#include "ops/operation.hpp"
#include "packages/conditions.hpp"
#include "packages/deputy.hpp"
#include "packages/package.hpp"
#include "sched/scheduler.hpp"
#include "store/store.hpp"
#include "support/test_dir.hpp"
#include "tasks/pipeline.hpp"
#include "transport/transport.hpp"

namespace steward::api {
namespace {

namespace fs = std::filesystem;
using auth::Role;
using boost::beast::http::verb;

// The services the routes are wired to; nothing here runs.
class ServerTables : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("route-roles");
    auto opened = store::open_store({"", dir_.string()});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
    scheduler_ = std::make_unique<sched::Scheduler>(io_.get_executor(), clock_, 4);
    jobs_ = std::make_unique<jobs::JobService>(io_.get_executor(), *store_, *scheduler_, transports_, ops_,
                                               [this](const std::string& name) { return inventory_.target(name); });
    conditions_ = std::make_unique<packages::ConditionHub>(io_.get_executor(), *scheduler_, transports_, *store_,
                                                           packages::Pacing::Grid);
    deputy_ = std::make_unique<packages::DeputyService>(*jobs_, inventory_, *store_, *conditions_, catalog_);
    action_log_ = std::make_unique<actions::ActionLog>(io_.get_executor(), *store_);
    tokens_ = std::make_unique<auth::TokenRegistry>(io_.get_executor(), *store_, "server-token");
    context_ = std::make_unique<http::ApiContext>(http::ApiContext{*jobs_, inventory_, *scheduler_, *deputy_, catalog_,
                                                                   actions_, *action_log_, task_file_, watchdog_,
                                                                   *tokens_, nullptr, "", nullptr, "", "", nullptr});
  }
  void TearDown() override { fs::remove_all(dir_); }

  boost::asio::io_context io_;
  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  SystemClock clock_;
  inventory::Inventory inventory_ = inventory::Inventory::builtin();
  transport::TransportRegistry transports_;
  ops::OpRegistry ops_;
  packages::Catalog catalog_{"/nonexistent"};
  actions::ActionRouter actions_{io_.get_executor()};
  tasks::TaskFile task_file_;
  LoopWatchdog watchdog_{io_.get_executor(), {}};
  std::unique_ptr<sched::Scheduler> scheduler_;
  std::unique_ptr<jobs::JobService> jobs_;
  std::unique_ptr<packages::ConditionHub> conditions_;
  std::unique_ptr<packages::DeputyService> deputy_;
  std::unique_ptr<actions::ActionLog> action_log_;
  std::unique_ptr<auth::TokenRegistry> tokens_;
  std::unique_ptr<http::ApiContext> context_;
};

std::string label_of(const http::RouteRole& entry) {
  return std::string(boost::beast::http::to_string(entry.verb)) + " " + std::string(entry.pattern);
}

std::optional<Role> role_of(verb method, std::string_view pattern) {
  for (const auto& entry : http::route_roles())
    if (entry.verb == method && entry.pattern == pattern) return entry.role;
  ADD_FAILURE() << "no entry for " << boost::beast::http::to_string(method) << " " << pattern;
  return Role::Admin;
}

TEST_F(ServerTables, EveryRouteHasARoleAndEveryRoleARoute) {
  http::Router router;
  // Router::add throws for a route missing from the table.
  ASSERT_NO_THROW(http::add_all_routes(router, *context_));
  const auto labels = router.labels();
  const std::set<std::string> wired(labels.begin(), labels.end());
  std::set<std::string> listed;
  for (const auto& entry : http::route_roles()) {
    EXPECT_TRUE(listed.insert(label_of(entry)).second) << label_of(entry) << " is in the table twice";
    EXPECT_TRUE(wired.contains(label_of(entry))) << label_of(entry) << " has a role but no route: remove it";
  }
  EXPECT_EQ(wired.size(), listed.size());
}

TEST(RouteRoles, OnlyHealthzAndTheDashboardFilesArePublicAndReadIsOnlyGet) {
  for (const auto& entry : http::route_roles()) {
    if (!entry.role) {
      EXPECT_TRUE(label_of(entry) == "GET /healthz" || label_of(entry) == "GET /ui/*path")
          << label_of(entry) << ": public routes need no token";
    }
    if (entry.role == Role::Read) {
      EXPECT_EQ(entry.verb, verb::get) << label_of(entry) << ": read is GET only";
    }
  }
}

TEST(RouteRoles, WorkNeedsOperateAndTokensNeedAdmin) {
  EXPECT_EQ(role_of(verb::get, "/jobs"), Role::Read);
  EXPECT_EQ(role_of(verb::get, "/jobs/:jid/events"), Role::Read);
  EXPECT_EQ(role_of(verb::get, "/conditions/:id/values"), Role::Read);
  // EXEd's blocking GETs run the operation.
  for (const char* operation : {"/ping", "/facter", "/service", "/execute", "/copy", "/fetch", "/deploy"}) {
    EXPECT_EQ(role_of(verb::get, operation), Role::Operate) << operation;
    EXPECT_EQ(role_of(verb::post, operation), Role::Operate) << operation;
  }
  EXPECT_EQ(role_of(verb::post, "/jobs/:jid/cancel"), Role::Operate);
  // The files dir holds what copy sends and fetch brings back.
  for (verb method : {verb::put, verb::get, verb::delete_}) EXPECT_EQ(role_of(method, "/files/*path"), Role::Operate);
  EXPECT_EQ(role_of(verb::delete_, "/jobs/:jid"), Role::Operate);
  EXPECT_EQ(role_of(verb::post, "/tasks"), Role::Operate);
  EXPECT_EQ(role_of(verb::post, "/actions"), Role::Operate);
  EXPECT_EQ(role_of(verb::get, "/audit"), Role::Admin) << "the audit trail names tokens, addresses and targets";
  EXPECT_EQ(role_of(verb::post, "/tokens"), Role::Admin);
  EXPECT_EQ(role_of(verb::get, "/tokens"), Role::Admin);
  EXPECT_EQ(role_of(verb::delete_, "/tokens/:name"), Role::Admin);
  EXPECT_EQ(role_of(verb::get, "/agents"), Role::Read);
  EXPECT_EQ(role_of(verb::post, "/agents/join-tokens"), Role::Admin);
  EXPECT_EQ(role_of(verb::post, "/agents/:id/approve"), Role::Admin);
  EXPECT_EQ(role_of(verb::post, "/agents/:id/revoke"), Role::Admin);
}

TEST_F(ServerTables, GrpcMethodsNeedOperateButCapabilities) {
  const auto methods = grpc::executor_methods(*deputy_);
  const std::set<std::string> expected{
      "/Capability/GetCapabilities", "/FeatureService/create",  "/FeatureService/delete",
      "/InjectService/create",       "/InjectService/delete",   "/ConditionService/create",
      "/ConditionService/stream",    "/ConditionService/delete"};
  std::set<std::string> names;
  for (const auto& [name, method] : methods) {
    names.insert(name);
    EXPECT_EQ(method.role, name == "/Capability/GetCapabilities" ? Role::Read : Role::Operate) << name;
  }
  EXPECT_EQ(names, expected);
}

TEST_F(ServerTables, TheAuditTrailRecordsTheGrpcMethodsThatChangeState) {
  for (const auto& [name, method] : grpc::executor_methods(*deputy_)) {
    const bool reads = name == "/Capability/GetCapabilities" || name == "/ConditionService/stream";
    EXPECT_EQ(method.audited, !reads) << name;
  }
}

}  // namespace
}  // namespace steward::api
