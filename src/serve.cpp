// `steward serve`: wires the layers together and runs the event loop.
#include "serve.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "actions/action_log.hpp"
#include "actions/external_driver.hpp"
#include "actions/http_driver.hpp"
#include "actions/router.hpp"
#include "actions/steward_driver.hpp"
#include "agents/trust.hpp"
#include "callback/endpoint.hpp"
#include "callback/registry.hpp"
#include "api/agents/agent_listener.hpp"
#include "api/auth/token_registry.hpp"
#include "api/grpc/grpc_server.hpp"
#include "api/http/routes.hpp"
#include "api/http/server.hpp"
#include "core/allow_list.hpp"
#include "core/clock.hpp"
#include "core/descriptors.hpp"
#include "core/ids.hpp"
#include "core/loop_watchdog.hpp"
#include "core/secret_args.hpp"
#include "core/secret_box.hpp"
#include "inventory/inventory.hpp"
#include "jobs/job_service.hpp"
#include "ops/deploy.hpp"
#include "ops/operation.hpp"
#include "packages/conditions.hpp"
#include "packages/deputy.hpp"
#include "packages/operations.hpp"
#include "sched/scheduler.hpp"
#include "tasks/operation.hpp"
#include "tasks/remote.hpp"
#include "store/store.hpp"
#include "transport/agent/hub.hpp"
#include "transport/transport.hpp"
#include "core/spawn.hpp"
#include "tls/asio_context.hpp"
#include "tls/identity.hpp"
#include "tls/self_signed.hpp"

namespace steward {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
constexpr std::chrono::hours kPrunePeriod{1};
constexpr std::chrono::minutes kValuePrunePeriod{10};

int fail(const std::string& message) {
  spdlog::critical("{}", message);
  return 2;
}

// Group and others lose every permission on `path` (not followed if a link).
void restrict_to_owner(const fs::path& path) {
  std::error_code ec;
  if (fs::is_symlink(path, ec)) return;
  fs::permissions(path, fs::perms::group_all | fs::perms::others_all, fs::perm_options::remove, ec);
}

// What steward wrote before the umask existed (older versions, or another
// user's umask) is owner-only too: the data dir and everything in it.
void restrict_tree_to_owner(const fs::path& root) {
  restrict_to_owner(root);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec))
    restrict_to_owner(it->path());
}

Status setup_logging(const ServeSettings& settings) {
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  if (!settings.log_dir.empty()) {
    try {
      fs::create_directories(settings.log_dir);
      fs::path file = fs::path(settings.log_dir) / settings.log_file_name;
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string()));
      restrict_to_owner(file);
    } catch (const std::exception& e) {
      return make_error(ErrorCode::InvalidArgument, std::string("cannot open log file: ") + e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>("steward", sinks.begin(), sinks.end());
  auto level = spdlog::level::from_str(settings.log_level);
  if (level == spdlog::level::off && settings.log_level != "off")
    return make_error(ErrorCode::InvalidArgument, "unknown log level '" + settings.log_level + "'");
  logger->set_level(level);
  spdlog::set_default_logger(logger);
  return {};
}

// STEWARD_TOKEN, else the token file, created on first start with mode 0600.
Result<std::string> load_or_create_token(const ServeSettings& settings) {
  if (!settings.token.empty()) return settings.token;
  fs::path path = fs::path(settings.data_dir) / "token";
  if (std::ifstream in(path); in) {
    std::string token;
    std::getline(in, token);
    if (!token.empty()) return token;
  }
  std::string token = random_hex(32);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::Internal, "cannot write " + path.string() + ": " + std::strerror(errno));
  std::string line = token + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!written) return make_error(ErrorCode::Internal, "cannot write " + path.string());
  spdlog::info("generated an API token in {} (the CLI reads it from there)", path.string());
  return token;
}

// Where clients (and tests using port 0) find a bound address: <data-dir>/<name>.
void publish_address(const ServeSettings& settings, const std::string& name, const std::string& address) {
  fs::path path = fs::path(settings.data_dir) / name;
  fs::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary);
    out << address << "\n";
  }
  fs::rename(temporary, path);
}

std::string address_text(const asio::ip::tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
         std::to_string(endpoint.port());
}

// "ADDR:PORT" with the port the server picked for port 0.
std::string with_port(const std::string& address, int port) {
  return address.substr(0, address.rfind(':')) + ":" + std::to_string(port);
}

std::string folder_setting(const std::string& value, const ServeSettings& settings, const char* fallback) {
  return value.empty() ? (fs::path(settings.data_dir) / fallback).string() : value;
}

// Descriptors 0-2 must exist, or a pipe could land on them and be closed by
// accident when a child is spawned.
void ensure_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1) ::open("/dev/null", O_RDWR);
  }
}


// A quarter of the descriptors stays free for the store, ssh sessions,
// child processes' pipes and files being copied.
std::size_t http_connection_limit(const ServeSettings& settings, std::uint64_t descriptor_limit) {
  if (settings.max_http_connections > 0) return static_cast<std::size_t>(settings.max_http_connections);
  return static_cast<std::size_t>(std::max<std::uint64_t>(descriptor_limit / 4 * 3, 16));
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

Result<tasks::TaskFile> load_tasks(const ServeSettings& settings) {
  if (settings.tasks_file.empty()) return tasks::TaskFile{};
  return tasks::load_task_file(settings.tasks_file);
}

// A self-signed certificate names this machine, loopback, and the listen
// addresses (unless they are wildcards), so clients verify any of them.
tls::CertificateNames self_signed_names(const ServeSettings& settings) {
  char host[256] = {};
  std::string hostname = ::gethostname(host, sizeof host - 1) == 0 ? host : "";
  // The SAN list is comma-separated text: keep only what a host name may hold.
  std::erase_if(hostname, [](char c) { return !std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-'; });
  tls::CertificateNames names{hostname.empty() ? "steward" : hostname, {"localhost"}, {"127.0.0.1", "::1"}};
  if (!hostname.empty() && hostname != "localhost") names.dns_names.push_back(hostname);
  for (const auto& listen : {settings.http, settings.grpc}) {
    std::string address = listen.substr(0, listen.rfind(':'));
    if (address.size() >= 2 && address.front() == '[') address = address.substr(1, address.size() - 2);
    boost::system::error_code not_ip;
    auto ip = asio::ip::make_address(address, not_ip);
    auto& list = not_ip ? names.dns_names : names.ip_addresses;
    if (address.empty() || address == "off" || address == "*" || (!not_ip && ip.is_unspecified()) ||
        std::find(list.begin(), list.end(), address) != list.end() ||
        address.find_first_of(", ") != std::string::npos)
      continue;
    list.push_back(address);
  }
  return names;
}

// --tls-cert/--tls-key, or with --tls auto the data dir's own certificate
// (created on first start); nullopt without TLS. Logs the fingerprint.
Result<std::optional<tls::Identity>> load_tls_identity(const ServeSettings& settings) {
  std::string certificate_path = settings.tls_cert, key_path = settings.tls_key;
  std::string origin = "given";
  if (settings.tls == "auto") {
    auto files = tls::ensure_self_signed((fs::path(settings.data_dir) / "tls").string(), self_signed_names(settings));
    if (!files) return files.error();
    certificate_path = files->certificate_path;
    key_path = files->key_path;
    origin = files->created ? "self-signed, created now" : "self-signed, reused";
  }
  if (certificate_path.empty()) return std::optional<tls::Identity>();
  auto identity = tls::load_identity(certificate_path, key_path);
  if (!identity) return identity.error();
  spdlog::info("TLS certificate {} ({}): {}", certificate_path, origin, identity->fingerprint);
  if (identity->expired) spdlog::warn("TLS certificate {} has expired: clients will refuse it", certificate_path);
  struct stat key_file {};
  if (::stat(key_path.c_str(), &key_file) == 0 && (key_file.st_mode & 077) != 0)
    spdlog::warn("TLS key {} is readable by other users: chmod 600 it", key_path);
  return std::optional<tls::Identity>(std::move(*identity));
}

// Runs a start-up read on the loop before anything else is on it.
Status run_before_serving(asio::io_context& io, asio::awaitable<Status> task) {
  Status result = make_error(ErrorCode::Internal, "the start-up read did not finish");
  asio::co_spawn(io, std::move(task), [&result](std::exception_ptr error, Status status) {
    if (!error) result = std::move(status);
  });
  io.run();
  io.restart();
  return result;
}

Result<inventory::Inventory> load_inventory(const ServeSettings& settings) {
  if (settings.inventory.empty()) return inventory::Inventory::builtin();
  return inventory::Inventory::load_file(settings.inventory);
}

}  // namespace

int serve(const ServeSettings& settings) {
  // Before anything is created: the database, its WAL, logs, keys and every
  // file steward writes are the server user's alone (0600, folders 0700).
  ::umask(077);
  ensure_standard_descriptors();
  ::signal(SIGPIPE, SIG_IGN);
  if (auto logging = setup_logging(settings); !logging) return fail(logging.error().message);
  const std::uint64_t descriptor_limit = raise_descriptor_limit();

  std::error_code ec;
  fs::create_directories(settings.data_dir, ec);
  if (ec) return fail("cannot create data dir " + settings.data_dir + ": " + ec.message());
  restrict_tree_to_owner(settings.data_dir);
  auto secret_box = load_or_create_secret_box(settings.secret_key, (fs::path(settings.data_dir) / "secret.key").string());
  if (!secret_box) return fail(secret_box.error().message);
  auto secret_names = SecretNames::parse(settings.secret_env_pattern);
  if (!secret_names) return fail("--secret-env-pattern: " + secret_names.error().message);
  const ArgSecrets secrets(std::move(*secret_box), std::move(*secret_names));

  std::string token;
  if (settings.no_auth) {
    spdlog::warn("AUTHENTICATION IS OFF (--no-auth): anyone who can reach {} can run commands", settings.http);
  } else {
    auto loaded = load_or_create_token(settings);
    if (!loaded) return fail(loaded.error().message);
    token = *loaded;
  }
  auto http_allow = AllowList::parse(settings.http_allow);
  if (!http_allow) return fail("--http-allow: " + http_allow.error().message);
  auto grpc_allow = AllowList::parse(settings.grpc_allow);
  if (!grpc_allow) return fail("--grpc-allow: " + grpc_allow.error().message);
  if (!token.empty() && !settings.http_allow.empty())
    spdlog::info("REST clients from {} need no token and have the operate role (--http-allow)", settings.http_allow);
  if (!token.empty() && !settings.grpc_allow.empty())
    spdlog::info("gRPC clients from {} need no token and have the operate role (--grpc-allow)", settings.grpc_allow);
  auto inventory = load_inventory(settings);
  if (!inventory) return fail(inventory.error().message);
  auto tls_identity = load_tls_identity(settings);
  if (!tls_identity) return fail(tls_identity.error().message);
  std::string grpc_client_ca;
  if (!settings.grpc_client_ca.empty()) {
    auto loaded = tls::load_certificates(settings.grpc_client_ca);
    if (!loaded) return fail("--grpc-client-ca: " + loaded.error().message);
    grpc_client_ca = std::move(*loaded);
  }

  auto task_file = load_tasks(settings);
  if (!task_file) return fail(task_file.error().message);

  auto store = store::open_store({settings.store, settings.data_dir});
  if (!store) return fail(store.error().message);

  asio::io_context io(1);
  // Named tokens are in memory before any listener opens, so none is refused at start.
  api::auth::TokenRegistry tokens(io.get_executor(), **store, token);
  if (auto loaded = run_before_serving(io, tokens.load()); !loaded)
    return fail("cannot read the API tokens: " + loaded.error().message);
  auto* const authenticator = settings.no_auth ? nullptr : &tokens;
  // Agents (issue 13): the agent CA (made on the first start) and the directory of agents.
  std::unique_ptr<agents::Trust> agent_trust;
  auto open_agent_trust = [&]() -> asio::awaitable<Status> {
    auto opening = agents::open_trust(settings.data_dir, **store);
    auto trust = co_await std::move(opening);
    if (!trust) co_return trust.error();
    agent_trust = std::move(*trust);
    co_return Status{};
  };
  if (auto opened = run_before_serving(io, open_agent_trust()); !opened) return fail(opened.error().message);
  // With --agent-listen, the hub the agent transport runs through.
  std::shared_ptr<transport::agent::AgentHub> agent_hub;
  if (settings.agent_listen != "off")
    agent_hub = std::make_shared<transport::agent::AgentHub>(
        io.get_executor(), transport::agent::HubOptions{std::chrono::seconds(settings.agent_wait_seconds)},
        agent_trust.get());
  // SSH callback targets (issue 14): registrations and the endpoint, with --callback only.
  std::unique_ptr<callback::Registry> callbacks;
  std::unique_ptr<callback::CallbackEndpoint> callback_endpoint;
  if (settings.callback != "off") {
    auto open_callbacks = [&]() -> asio::awaitable<Status> {
      auto opening = callback::open_registry(settings.data_dir, **store);
      auto opened = co_await std::move(opening);
      if (!opened) co_return opened.error();
      callbacks = std::move(*opened);
      co_return Status{};
    };
    if (auto opened = run_before_serving(io, open_callbacks()); !opened) return fail(opened.error().message);
    callback_endpoint = std::make_unique<callback::CallbackEndpoint>(
        io.get_executor(), *callbacks,
        callback::EndpointOptions{.wait = std::chrono::seconds(settings.callback_wait_seconds),
                                  .keepalive = std::chrono::seconds(settings.ssh_keepalive_seconds)});
  }
  transport::TransportRegistry transports;
  transport::TransportOptions transport_options;
  transport_options.data_dir = settings.data_dir;
  transport_options.ssh_idle_timeout = std::chrono::seconds(settings.ssh_idle_timeout_seconds);
  transport_options.ssh_keepalive = std::chrono::seconds(settings.ssh_keepalive_seconds);
  transport_options.agents = agent_hub;
  if (callbacks) {
    transport_options.callback_dial = [endpoint = callback_endpoint.get()](const std::string& name) {
      return endpoint->dial(name);
    };
    transport_options.callback_key_file = callbacks->keys().controller_key_file;
    transport_options.callback_known_hosts = callbacks->keys().known_hosts;
  }
  if (auto added = transport::register_builtin_transports(transports, transport_options); !added)
    return fail(added.error().message);
  ops::OpRegistry operations;
  const std::string files_dir = folder_setting(settings.files_dir, settings, "files");
  const std::string packages_dir = folder_setting(settings.packages_dir, settings, "packages");
  for (const auto& dir : {files_dir, packages_dir}) {
    fs::create_directories(dir, ec);
    if (ec) return fail("cannot create " + dir + ": " + ec.message());
  }
  if (auto added = ops::register_builtin_ops(operations, {.files_root = files_dir}); !added)
    return fail(added.error().message);
  packages::Catalog catalog(packages_dir);
  if (auto added = packages::register_package_ops(operations, catalog,
                                                  {std::chrono::seconds(settings.hypervisor_wait_timeout),
                                                   std::chrono::seconds(settings.hypervisor_wait_interval)});
      !added)
    return fail(added.error().message);
  auto deploy = deploy_options(settings, operations, catalog);
  if (!deploy) return fail(deploy.error().message);
  if (auto added = operations.add("deploy", ops::make_deploy(std::move(*deploy))); !added)
    return fail(added.error().message);
  tasks::RunnerOptions task_options;
  task_options.remote_exec = tasks::remote_exec_on(*inventory, transports);
  task_options.http = std::make_shared<tasks::HttpClient>();
  if (auto added = operations.add("tasks", tasks::make_tasks_operation(*task_file, task_options)); !added)
    return fail(added.error().message);
  SystemClock clock;
  sched::Scheduler scheduler(io.get_executor(), clock, settings.max_connections);
  jobs::JobService jobs(io.get_executor(), **store, scheduler, transports, operations,
                        [&inventory](const std::string& name) { return inventory->target(name); }, &secrets);
  packages::ConditionHub conditions(
      io.get_executor(), scheduler, transports, **store,
      settings.condition_pacing == "sleep" ? packages::Pacing::SleepAfterRun : packages::Pacing::Grid);
  packages::DeputyService deputy(jobs, *inventory, **store, conditions, catalog, &secrets);

  std::optional<api::grpc::GrpcServer> grpc;
  if (settings.grpc != "off") {
    grpc.emplace(io.get_executor(), deputy, authenticator, *grpc_allow);
    auto port = grpc->listen(settings.grpc, *tls_identity ? &**tls_identity : nullptr, grpc_client_ca);
    if (!port) return fail(port.error().message);
    publish_address(settings, "grpc.addr", with_port(settings.grpc, *port));
    spdlog::info("serving the gRPC API (Ranger executor) on {}{}", with_port(settings.grpc, *port),
                 !*tls_identity ? "" : grpc_client_ca.empty() ? " over TLS" : " over TLS, client certificates required");
  }

  std::optional<api::agent_rpc::AgentListener> agent_listener;
  std::string agent_address;  // shown in join commands
  if (agent_hub && !settings.no_agent_groups) {
    agent_hub->on_connected([&inventory](const transport::agent::ConnectedAgent& agent) {
      if (inventory->add_agent_host(agent.id, agent.labels))
        spdlog::info("agent {} is not in the inventory: added as host {} (group agents)", agent.id, agent.id);
    });
  }
  if (agent_hub) {
    agent_listener.emplace(*agent_hub, *agent_trust);
    auto port = agent_listener->listen(settings.agent_listen);
    if (!port) return fail(port.error().message);
    agent_address = with_port(settings.agent_listen, *port);
    publish_address(settings, "agent.addr", agent_address);
    spdlog::info("listening for agents on {} (CA {})", with_port(settings.agent_listen, *port), agent_trust->ca_pin());
  }

  std::string callback_address;  // shown in registrations
  if (callback_endpoint) {
    auto add_host = [&inventory](const callback::Registration& registration) {
      if (inventory->add_callback_host(registration.name, callback::callback_host_vars(registration)))
        spdlog::info("callback target {} added to the inventory (group callback)", registration.name);
      else if (!registration.sshd_port && !inventory->find(registration.name)->vars.contains("steward_callback"))
        spdlog::warn("callback target {}: the inventory has a host of that name without steward_callback={}: it is "
                     "not reached through its callback", registration.name, registration.name);
    };
    for (const auto& registration : callbacks->list()) add_host(registration);
    callbacks->on_added(add_host);
    callbacks->on_removed([&inventory](const std::string& name) {
      if (inventory->remove_callback_host(name)) spdlog::info("callback target {} left the inventory", name);
    });
    auto port = callback_endpoint->listen(settings.callback);
    if (!port) return fail(port.error().message);
    callback_address = with_port(settings.callback, *port);
    publish_address(settings, "callback.addr", callback_address);
    spdlog::info("callback endpoint (ssh -N -R) on {} ({} registered)", callback_address, callbacks->list().size());
  }

  actions::ActionRouter action_router(io.get_executor());
  action_router.hide_secrets(secrets.names());
  actions::ActionLog action_log(io.get_executor(), **store);
  action_router.on_change([&action_log](const actions::ActionRecord& record) { action_log.save(record); });
  if (auto added = action_router.add(actions::make_steward_driver(jobs, *inventory)); !added)
    return fail(added.error().message);
  if (!settings.webhooks_file.empty()) {
    auto webhooks = actions::load_webhooks(settings.webhooks_file);
    if (!webhooks) return fail(webhooks.error().message);
    if (auto added = action_router.add(actions::make_http_driver(std::move(*webhooks), task_options.http)); !added)
      return fail(added.error().message);
  }

  LoopWatchdog watchdog(io.get_executor(), {});
  api::http::Router router;
  api::http::ApiContext context{jobs,       *inventory, scheduler, deputy, catalog, action_router,
                                action_log, *task_file, watchdog,  tokens,    agent_trust.get(), agent_address,
                                callbacks.get(), callback_address};
  api::http::add_all_routes(router, context);
  api::http::HttpOptions http_options;
  http_options.tokens = authenticator;
  http_options.allow = *http_allow;
  http_options.body_limit = static_cast<std::size_t>(settings.body_limit_kib) * 1024;
  http_options.idle_timeout = std::chrono::seconds(settings.idle_timeout_seconds);
  http_options.header_timeout = std::chrono::seconds(settings.header_timeout_seconds);
  http_options.max_connections = http_connection_limit(settings, descriptor_limit);
  if (*tls_identity) {
    auto context = tls::make_server_context(**tls_identity);
    if (!context) return fail(context.error().message);
    http_options.tls = std::move(*context);
  }
  api::http::HttpServer http(io.get_executor(), router, http_options);
  auto endpoint = http.listen(settings.http);
  if (!endpoint) return fail(endpoint.error().message);

  int exit_code = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    if (!settings.drivers_dir.empty()) {
      auto drivers = co_await actions::load_external_drivers(settings.drivers_dir);
      Status added = drivers ? Status{} : Status(drivers.error());
      if (drivers) {
        for (auto& driver : *drivers)
          if (added) added = action_router.add(std::move(driver));
      }
      if (!added) {
        exit_code = fail("action drivers in " + settings.drivers_dir + ": " + added.error().message);
        if (grpc) co_await grpc->shutdown();  // calls already accepted need the loop to end
        if (agent_listener) co_await agent_listener->shutdown();
        io.stop();
        co_return;
      }
    }
    if (auto repaired = co_await action_log.repair_interrupted(); !repaired)
      spdlog::error("could not mark interrupted actions: {}", repaired.error().message);
    if (auto recovered = co_await jobs.recover(); !recovered)
      spdlog::error("could not recover unfinished jobs: {}", recovered.error().message);
    http.start();
    publish_address(settings, "http.addr", address_text(*endpoint));
    spdlog::info("steward {} serving the REST API on {}://{} ({} hosts in the inventory, at most {} "
                 "connections)", STEWARD_VERSION, http_options.tls ? "https" : "http", address_text(*endpoint),
                 inventory->hosts().size(), http_options.max_connections);
    asio::co_spawn(io, deputy.prune_values_periodically(std::chrono::hours(settings.condition_values_hours),
                                                        kValuePrunePeriod),
                   log_failure("pruning condition values"));
    co_await jobs.prune_periodically(std::chrono::hours(24) * settings.retention_days, kPrunePeriod);
  }, log_failure("start-up and job pruning"));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool shutting_down = false;
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& error, int number) {
    if (error) return;
    if (shutting_down) {
      spdlog::warn("second signal: exiting now");
      std::_Exit(1);
    }
    shutting_down = true;
    spdlog::info("signal {}: no new requests; running operations get {} s", number, settings.grace_seconds);
    http.stop_accepting();
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      conditions.stop_all(make_error(ErrorCode::Unavailable, "the server is shutting down"));
      action_router.cancel_all("the server is shutting down");
      deputy.stop();
      co_await jobs.shutdown(std::chrono::seconds(settings.grace_seconds));
      if (grpc) co_await grpc->shutdown();
      if (agent_listener) co_await agent_listener->shutdown();
      if (callback_endpoint) callback_endpoint->shutdown();
      http.close_all();
      // Transports close their connections on the loop and their coroutines
      // end there, rather than being torn down with the loop.
      transports.shutdown_all();
      asio::steady_timer settle(io, std::chrono::milliseconds(100));
      co_await settle.async_wait(asio::use_awaitable);
      io.stop();
    }, log_failure("the shutdown sequence"));
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  watchdog.start();
  io.run();
  watchdog.stop();
  // The store's threads finish and post their last completions while the
  // loop still exists to receive them.
  store->reset();
  std::error_code ignored;
  fs::remove(fs::path(settings.data_dir) / "http.addr", ignored);
  fs::remove(fs::path(settings.data_dir) / "grpc.addr", ignored);
  fs::remove(fs::path(settings.data_dir) / "agent.addr", ignored);
  fs::remove(fs::path(settings.data_dir) / "callback.addr", ignored);
  if (exit_code == 0) spdlog::info("stopped");
  return exit_code;
}

}  // namespace steward
