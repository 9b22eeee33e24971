// Start-up: the transports, operations, scheduler, job service, Deputy
// services and actions a server runs work with.
#include <filesystem>
#include <fstream>

#include "actions/http_driver.hpp"
#include "actions/steward_driver.hpp"
#include "ops/deploy.hpp"
#include "packages/operations.hpp"
#include "server/server_parts.hpp"
#include "tasks/operation.hpp"
#include "tasks/remote.hpp"

namespace steward::server {
namespace {

namespace fs = std::filesystem;

std::string folder_setting(const std::string& value, const ServeSettings& settings, const char* fallback) {
  return value.empty() ? (fs::path(settings.data_dir) / fallback).string() : value;
}

// Ansible reads the server's inventory (the built-in one written out); its
// results come back through steward's callback plugin.
Result<ops::DeployOptions> deploy_options(const ServeSettings& settings, const ops::OpRegistry& operations,
                                          const packages::Catalog& catalog) {
  ops::DeployOptions options;
  fs::path ansible = fs::path(settings.data_dir) / "ansible";
  options.playbooks_dir = settings.playbooks_dir;
  options.callback_dir = (ansible / "callback_plugins").string();
  if (auto written = ops::write_ansible_callback(options.callback_dir); !written) return written.error();
  options.inventory_path = settings.inventory;
  if (options.inventory_path.empty()) {
    options.inventory_path = (ansible / "inventory.ini").string();
    std::ofstream(options.inventory_path) << "localhost ansible_connection=local\n";
  }
  auto install = operations.find("install");
  if (install) options.install = *install;
  options.find_role = [&catalog](const std::string& role) -> Status {
    auto package = catalog.resolve(role, "");
    if (!package) return make_error(ErrorCode::NotFound, "no role '" + role + "': " + package.error().message);
    if (package->type != packages::ContentType::Feature)
      return make_error(ErrorCode::InvalidArgument, "role '" + role + "' is a " +
                                                        packages::to_string(package->type) +
                                                        " package, not a feature");
    return {};
  };
  return options;
}

Status register_transports(Server::Parts& parts) {
  const ServeSettings& settings = parts.settings;
  transport::TransportOptions options;
  options.data_dir = settings.data_dir;
  options.ssh_idle_timeout = std::chrono::seconds(settings.ssh_idle_timeout_seconds);
  options.ssh_keepalive = std::chrono::seconds(settings.ssh_keepalive_seconds);
  options.agents = parts.agent_hub;
  if (parts.callbacks) {
    options.callback_dial = [endpoint = parts.callback_endpoint.get()](const std::string& name) {
      return endpoint->dial(name);
    };
    options.callback_key_file = parts.callbacks->keys().controller_key_file;
    options.callback_known_hosts = parts.callbacks->keys().known_hosts;
  }
  return transport::register_builtin_transports(parts.transports, options);
}

Status register_operations(Server::Parts& parts) {
  const ServeSettings& settings = parts.settings;
  const std::string files_dir = folder_setting(settings.files_dir, settings, "files");
  const std::string packages_dir = folder_setting(settings.packages_dir, settings, "packages");
  for (const auto& dir : {files_dir, packages_dir}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(ErrorCode::Internal, "cannot create " + dir + ": " + ec.message());
  }
  if (auto added = ops::register_builtin_ops(parts.operations, {.files_root = files_dir}); !added) return added;
  parts.files_dir = files_dir;
  parts.catalog.emplace(packages_dir);
  if (auto added = packages::register_package_ops(parts.operations, *parts.catalog,
                                                  {std::chrono::seconds(settings.hypervisor_wait_timeout),
                                                   std::chrono::seconds(settings.hypervisor_wait_interval)});
      !added)
    return added;
  auto deploy = deploy_options(settings, parts.operations, *parts.catalog);
  if (!deploy) return deploy.error();
  if (auto added = parts.operations.add("deploy", ops::make_deploy(std::move(*deploy))); !added) return added;
  parts.task_options.remote_exec = tasks::remote_exec_on(*parts.inventory, parts.transports);
  parts.task_options.http = std::make_shared<tasks::HttpClient>();
  return parts.operations.add("tasks", tasks::make_tasks_operation(parts.task_file, parts.task_options));
}

}  // namespace

Status build_services(Server::Parts& parts) {
  const ServeSettings& settings = parts.settings;
  if (auto added = register_transports(parts); !added) return added;
  if (auto added = register_operations(parts); !added) return added;
  parts.scheduler.emplace(parts.executor, parts.clock, settings.max_connections);
  inventory::Inventory* inventory = &*parts.inventory;
  parts.jobs.emplace(parts.executor, *parts.store, *parts.scheduler, parts.transports, parts.operations,
                     [inventory](const std::string& name) { return inventory->target(name); }, &*parts.secrets);
  parts.target_health.emplace(*parts.inventory);
  parts.jobs->observe_runs([health = &*parts.target_health](const std::string& target, const TargetRun& run) {
    health->record(target, run.result, run.finishat);
  });
  parts.conditions.emplace(
      parts.executor, *parts.scheduler, parts.transports, *parts.store,
      settings.condition_pacing == "sleep" ? packages::Pacing::SleepAfterRun : packages::Pacing::Grid);
  parts.deputy.emplace(*parts.jobs, *parts.inventory, *parts.store, *parts.conditions, *parts.catalog,
                       &*parts.secrets);
  return {};
}

Status build_actions(Server::Parts& parts) {
  parts.action_router.emplace(parts.executor);
  parts.action_router->hide_secrets(parts.secrets->names());
  parts.action_log.emplace(parts.executor, *parts.store);
  parts.action_router->on_change(
      [log = &*parts.action_log](const actions::ActionRecord& record) { log->save(record); });
  if (auto added = parts.action_router->add(actions::make_steward_driver(*parts.jobs, *parts.inventory)); !added)
    return added;
  if (parts.settings.webhooks_file.empty()) return {};
  auto webhooks = actions::load_webhooks(parts.settings.webhooks_file);
  if (!webhooks) return webhooks.error();
  return parts.action_router->add(actions::make_http_driver(std::move(*webhooks), parts.task_options.http));
}

}  // namespace steward::server
