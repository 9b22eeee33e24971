// Start-up: the listeners (gRPC, agents, SSH callbacks, REST) and the
// address files clients and tests read their ports from.
#include <prometheus/metric_family.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/descriptors.hpp"
#include "server/server_parts.hpp"
#include "tls/asio_context.hpp"

namespace steward::server {
namespace {

namespace fs = std::filesystem;

// A quarter of the descriptors stays free for the store, ssh sessions,
// child processes' pipes and files being copied.
std::size_t http_connection_limit(const ServeSettings& settings, std::uint64_t descriptor_limit) {
  if (settings.max_http_connections > 0) return static_cast<std::size_t>(settings.max_http_connections);
  return static_cast<std::size_t>(std::max<std::uint64_t>(descriptor_limit / 4 * 3, 16));
}

}  // namespace

std::string with_port(const std::string& address, int port) {
  return address.substr(0, address.rfind(':')) + ":" + std::to_string(port);
}

void publish_address(Server::Parts& parts, const std::string& name, const std::string& address) {
  fs::path path = fs::path(parts.settings.data_dir) / name;
  fs::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary);
    out << address << "\n";
  }
  fs::rename(temporary, path);
  parts.published.push_back(path.string());
}

Status listen_grpc(Server::Parts& parts) {
  const ServeSettings& settings = parts.settings;
  if (settings.grpc == "off") return {};
  auto* const authenticator = settings.no_auth ? nullptr : &*parts.tokens;
  parts.grpc.emplace(parts.executor, *parts.deputy, authenticator, parts.grpc_allow, &*parts.audit,
                     &parts.grpc_metrics);
  const tls::Identity* identity = parts.tls_identity ? &*parts.tls_identity : nullptr;
  auto port = parts.grpc->listen(settings.grpc, identity, parts.grpc_client_ca);
  if (!port) return port.error();
  parts.grpc_port = *port;
  publish_address(parts, "grpc.addr", with_port(settings.grpc, *port));
  spdlog::info("serving the gRPC API (Ranger executor) on {}{}", with_port(settings.grpc, *port),
               !identity                        ? ""
               : parts.grpc_client_ca.empty() ? " over TLS"
                                               : " over TLS, client certificates required");
  return {};
}

Status listen_agents(Server::Parts& parts) {
  const ServeSettings& settings = parts.settings;
  if (!parts.agent_hub) return {};
  if (!settings.no_agent_groups) {
    parts.agent_hub->on_connected([inventory = &*parts.inventory](const transport::agent::ConnectedAgent& agent) {
      if (inventory->add_agent_host(agent.id, agent.labels))
        spdlog::info("agent {} is not in the inventory: added as host {} (group agents)", agent.id, agent.id);
    });
  }
  parts.agent_listener.emplace(*parts.agent_hub, *parts.agent_trust);
  auto port = parts.agent_listener->listen(settings.agent_listen);
  if (!port) return port.error();
  parts.agent_port = *port;
  parts.agent_address = with_port(settings.agent_listen, *port);
  publish_address(parts, "agent.addr", parts.agent_address);
  spdlog::info("listening for agents on {} (CA {})", parts.agent_address, parts.agent_trust->ca_pin());
  return {};
}

Status listen_callbacks(Server::Parts& parts) {
  if (!parts.callback_endpoint) return {};
  auto add_host = [inventory = &*parts.inventory](const callback::Registration& registration) {
    if (inventory->add_callback_host(registration.name, callback::callback_host_vars(registration)))
      spdlog::info("callback target {} added to the inventory (group callback)", registration.name);
    else if (!registration.sshd_port && !inventory->find(registration.name)->vars.contains("steward_callback"))
      spdlog::warn("callback target {}: the inventory has a host of that name without steward_callback={}: it is "
                   "not reached through its callback", registration.name, registration.name);
  };
  for (const auto& registration : parts.callbacks->list()) add_host(registration);
  parts.callbacks->on_added(add_host);
  parts.callbacks->on_removed([inventory = &*parts.inventory, health = &*parts.target_health](const std::string& name) {
    if (inventory->remove_callback_host(name)) spdlog::info("callback target {} left the inventory", name);
    health->forget_missing();
  });
  auto port = parts.callback_endpoint->listen(parts.settings.callback);
  if (!port) return port.error();
  parts.callback_port = *port;
  parts.callback_address = with_port(parts.settings.callback, *port);
  publish_address(parts, "callback.addr", parts.callback_address);
  spdlog::info("callback endpoint (ssh -N -R) on {} ({} registered)", parts.callback_address,
               parts.callbacks->list().size());
  return {};
}

// Binds the REST port; accepting begins in Server::start, after recovery.
Status listen_http(Server::Parts& parts) {
  const ServeSettings& settings = parts.settings;
  parts.watchdog.emplace(parts.executor, LoopWatchdog::Options{});
  parts.api_context.emplace(api::http::ApiContext{
      *parts.jobs, *parts.inventory, *parts.scheduler, *parts.deputy, *parts.catalog, *parts.action_router,
      *parts.action_log, parts.task_file, *parts.watchdog, *parts.tokens, parts.agent_trust.get(),
      parts.agent_address, parts.callbacks.get(), parts.callback_address, parts.files_dir, &parts.http_metrics,
      &*parts.audit, &*parts.conditions, &parts.transports,
      {[&metrics = parts.grpc_metrics] { return metrics.collect(); },
       [&metrics = parts.store_metrics] { return metrics.collect(); }},
      &*parts.target_health});
  api::http::add_all_routes(parts.router, *parts.api_context);
  api::http::HttpOptions options;
  options.tokens = settings.no_auth ? nullptr : &*parts.tokens;
  options.allow = parts.http_allow;
  options.body_limit = static_cast<std::size_t>(settings.body_limit_kib) * 1024;
  options.stream_body_limit = static_cast<std::uint64_t>(settings.upload_limit_mib) << 20;
  options.idle_timeout = std::chrono::seconds(settings.idle_timeout_seconds);
  options.header_timeout = std::chrono::seconds(settings.header_timeout_seconds);
  options.max_connections = http_connection_limit(settings, descriptor_limit());
  options.metrics = &parts.http_metrics;
  options.audit = &*parts.audit;
  if (parts.tls_identity) {
    auto context = tls::make_server_context(*parts.tls_identity);
    if (!context) return context.error();
    options.tls = std::move(*context);
  }
  parts.http_tls = static_cast<bool>(options.tls);
  parts.http_max_connections = options.max_connections;
  parts.http.emplace(parts.executor, parts.router, std::move(options));
  auto endpoint = parts.http->listen(settings.http);
  if (!endpoint) return endpoint.error();
  parts.http_endpoint = *endpoint;
  return {};
}

}  // namespace steward::server
