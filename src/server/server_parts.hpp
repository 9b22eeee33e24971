#pragma once
// What a Server is made of, declared in dependency order: each member uses
// only those above it, so they are destroyed users first, the store last.
// Included by the server's own files only.
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actions/action_log.hpp"
#include "actions/router.hpp"
#include "agents/trust.hpp"
#include "api/agents/agent_listener.hpp"
#include "api/audit/audit_log.hpp"
#include "api/auth/token_registry.hpp"
#include "api/grpc/grpc_metrics.hpp"
#include "api/grpc/grpc_server.hpp"
#include "api/http/http_metrics.hpp"
#include "api/http/routes.hpp"
#include "api/http/server.hpp"
#include "callback/endpoint.hpp"
#include "callback/registry.hpp"
#include "core/allow_list.hpp"
#include "core/clock.hpp"
#include "core/loop_watchdog.hpp"
#include "core/secret_args.hpp"
#include "inventory/inventory.hpp"
#include "inventory/target_health.hpp"
#include "jobs/job_service.hpp"
#include "ops/operation.hpp"
#include "packages/conditions.hpp"
#include "packages/deputy.hpp"
#include "packages/package.hpp"
#include "sched/scheduler.hpp"
#include "server/background_tasks.hpp"
#include "server/server.hpp"
#include "store/store.hpp"
#include "store/store_metrics.hpp"
#include "tasks/pipeline.hpp"
#include "tasks/runner.hpp"
#include "tls/identity.hpp"
#include "transport/agent/hub.hpp"
#include "transport/transport.hpp"

namespace steward {

struct Server::Parts {
  Parts(ServeSettings settings, const Clock& clock, boost::asio::any_io_executor executor)
      : settings(std::move(settings)), clock(clock), executor(std::move(executor)), background(this->executor) {}

  // Given.
  const ServeSettings settings;
  const Clock& clock;
  boost::asio::any_io_executor executor;

  // Counted into by the parts below; read by GET /metrics.
  store::StoreMetrics store_metrics;
  api::grpc::GrpcMetrics grpc_metrics;

  // Read from the data dir, the settings and the files they name.
  std::string server_id;
  std::optional<ArgSecrets> secrets;
  std::string token;  // empty with --no-auth
  AllowList http_allow;
  AllowList grpc_allow;
  std::optional<inventory::Inventory> inventory;
  std::optional<tls::Identity> tls_identity;
  std::string grpc_client_ca;
  tasks::TaskFile task_file;

  // The store and what is kept in it.
  std::unique_ptr<store::Store> store;
  std::optional<api::auth::TokenRegistry> tokens;
  std::optional<api::audit::AuditLog> audit;
  std::unique_ptr<agents::Trust> agent_trust;
  std::shared_ptr<transport::agent::AgentHub> agent_hub;  // with --agent-listen
  std::unique_ptr<callback::Registry> callbacks;          // with --callback
  std::unique_ptr<callback::CallbackEndpoint> callback_endpoint;

  // Running work.
  transport::TransportRegistry transports;
  ops::OpRegistry operations;
  std::optional<packages::Catalog> catalog;
  tasks::RunnerOptions task_options;
  std::optional<sched::Scheduler> scheduler;
  std::optional<jobs::JobService> jobs;
  std::optional<inventory::TargetHealth> target_health;  // what finished runs say of reaching each host
  std::optional<packages::ConditionHub> conditions;
  std::optional<packages::DeputyService> deputy;
  std::optional<actions::ActionRouter> action_router;
  std::optional<actions::ActionLog> action_log;
  BackgroundTasks background;  // pruning; ended by stop()

  // Listeners.
  std::optional<api::grpc::GrpcServer> grpc;
  std::optional<int> grpc_port;
  std::optional<api::agent_rpc::AgentListener> agent_listener;
  std::optional<int> agent_port;
  std::string agent_address;  // shown in join commands
  std::optional<int> callback_port;
  std::string callback_address;  // shown in registrations
  std::optional<LoopWatchdog> watchdog;
  std::string files_dir;  // --files-dir, resolved and created
  api::http::Router router;
  api::http::HttpMetrics http_metrics;
  std::optional<api::http::ApiContext> api_context;
  std::optional<api::http::HttpServer> http;
  boost::asio::ip::tcp::endpoint http_endpoint;
  bool http_tls = false;
  std::size_t http_max_connections = 0;
  std::vector<std::string> published;  // address files written into the data dir
};

// Start-up stages (server_build.cpp, server_listen.cpp), in the order start() runs them.
namespace server {
Status read_configuration(Server::Parts& parts);
boost::asio::awaitable<Status> open_registries(Server::Parts& parts);
Status build_services(Server::Parts& parts);
Status listen_grpc(Server::Parts& parts);
Status listen_agents(Server::Parts& parts);
Status listen_callbacks(Server::Parts& parts);
Status build_actions(Server::Parts& parts);
Status listen_http(Server::Parts& parts);
// Writes <data-dir>/NAME with the address, for clients and tests using port 0.
void publish_address(Server::Parts& parts, const std::string& name, const std::string& address);
// "ADDR:PORT" with the port the server picked for port 0.
std::string with_port(const std::string& address, int port);
}  // namespace server

}  // namespace steward
