#pragma once
// Every REST route, wired to the services it needs.
#include <functional>
#include <string>
#include <vector>

#include "api/http/router.hpp"

namespace steward {
namespace jobs { class JobService; }
namespace inventory { class Inventory; class TargetHealth; }
namespace sched { class Scheduler; }
namespace packages { class DeputyService; class Catalog; class ConditionHub; }
namespace transport { class TransportRegistry; }
namespace actions { class ActionRouter; class ActionLog; }
namespace tasks { struct TaskFile; }
class LoopWatchdog;
namespace api::auth { class TokenRegistry; }
namespace api::audit { class AuditLog; }
namespace agents { class Trust; }
namespace callback { class Registry; }
}  // namespace steward
namespace prometheus { struct MetricFamily; }

namespace steward::api::http {

class HttpMetrics;

struct ApiContext {
  jobs::JobService& jobs;
  const inventory::Inventory& inventory;
  const sched::Scheduler& scheduler;
  packages::DeputyService& deputy;
  const packages::Catalog& catalog;
  actions::ActionRouter& actions;
  actions::ActionLog& action_log;
  const tasks::TaskFile& tasks;
  const LoopWatchdog& watchdog;
  auth::TokenRegistry& tokens;
  agents::Trust* agents = nullptr;  // null: no agent enrolment on this server
  std::string agent_address;        // the agent listener's HOST:PORT, for join commands; empty when unknown
  callback::Registry* callbacks = nullptr;  // null: no callback endpoint on this server
  std::string callback_address;             // the callback endpoint's HOST:PORT
  std::string files_dir;                    // --files-dir, for PUT, GET and DELETE /files/PATH
  const HttpMetrics* http_metrics = nullptr;  // null: /metrics has no request counts
  audit::AuditLog* audit = nullptr;           // null: GET /audit answers 404
  const packages::ConditionHub* conditions = nullptr;       // null: /metrics has no condition counts
  const transport::TransportRegistry* transports = nullptr;  // null: /metrics has no transport counts
  // Further families for /metrics, from parts REST does not know (gRPC, the store).
  std::vector<std::function<std::vector<prometheus::MetricFamily>()>> metric_sources = {};
  const inventory::TargetHealth* target_health = nullptr;  // null: GET /targets?detail=1 knows no outcomes
};

void add_operation_routes(Router& router, ApiContext& context);
void add_job_routes(Router& router, ApiContext& context);
void add_service_routes(Router& router, ApiContext& context);
void add_package_routes(Router& router, ApiContext& context);
void add_action_routes(Router& router, ApiContext& context);
void add_task_routes(Router& router, ApiContext& context);
void add_token_routes(Router& router, ApiContext& context);
void add_agent_routes(Router& router, ApiContext& context);
void add_callback_routes(Router& router, ApiContext& context);
void add_file_routes(Router& router, ApiContext& context);
void add_audit_routes(Router& router, ApiContext& context);
void add_dashboard_routes(Router& router, ApiContext& context);

struct WebAsset;
class Exchange;
// A dashboard file with its headers (CSP, nosniff, ETag): 304 when If-None-Match names it.
boost::asio::awaitable<void> reply_asset(Exchange& exchange, const WebAsset& asset);

inline void add_all_routes(Router& router, ApiContext& context) {
  add_operation_routes(router, context);
  add_job_routes(router, context);
  add_service_routes(router, context);
  add_package_routes(router, context);
  add_action_routes(router, context);
  add_task_routes(router, context);
  add_token_routes(router, context);
  add_agent_routes(router, context);
  add_callback_routes(router, context);
  add_file_routes(router, context);
  add_audit_routes(router, context);
  add_dashboard_routes(router, context);
}

}  // namespace steward::api::http
