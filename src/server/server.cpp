#include "server/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>

#include "actions/external_driver.hpp"
#include "inventory/shared_health.hpp"
#include "server/server_parts.hpp"

namespace steward {
namespace {

namespace asio = boost::asio;
constexpr std::chrono::hours kPrunePeriod{1};
constexpr std::chrono::minutes kValuePrunePeriod{10};
constexpr double kLeaseSeconds = 10;
// With a store that does not tell of news (SQLite), how soon work another
// server placed here, or a cancel asked there, is acted on.
constexpr std::chrono::milliseconds kStorePoll{100};
// How often conditions followed here are announced, and those announced elsewhere started or stopped here.
constexpr std::chrono::seconds kConditionPlacementPeriod{2};
// How often what runs said of reaching hosts is shared with other servers.
constexpr std::chrono::seconds kHealthSharePeriod{5};
// Transports close their connections on the loop; this lets their coroutines end there.
constexpr std::chrono::milliseconds kSettle{100};

std::string address_text(const asio::ip::tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
         std::to_string(endpoint.port());
}

asio::awaitable<Status> add_external_drivers(Server::Parts& parts) {
  const std::string& folder = parts.settings.drivers_dir;
  if (folder.empty()) co_return Status{};
  auto drivers = co_await actions::load_external_drivers(folder);
  Status added = drivers ? Status{} : Status(drivers.error());
  if (drivers) {
    for (auto& driver : *drivers)
      if (added) added = parts.action_router->add(std::move(driver));
  }
  if (!added) co_return make_error(added.error().code, "action drivers in " + folder + ": " + added.error().message);
  co_return Status{};
}

}  // namespace

Server::Server(ServeSettings settings, const Clock& clock, asio::any_io_executor executor)
    : parts_(std::make_unique<Parts>(std::move(settings), clock, std::move(executor))) {}

Server::~Server() = default;

asio::awaitable<Status> Server::start() {
  if (phase_ != Phase::Created) co_return make_error(ErrorCode::Conflict, "the server was already started");
  phase_ = Phase::Starting;
  Status started = co_await start_serving();
  if (!started) {
    phase_ = Phase::Failed;
    co_await close_listeners();
    co_return started;
  }
  phase_ = Phase::Serving;
  co_return Status{};
}

// Each stage uses what the ones before it built (server/server_parts.hpp).
asio::awaitable<Status> Server::start_serving() {
  Parts& parts = *parts_;
  if (auto read = server::read_configuration(parts); !read) co_return read;
  auto opening = server::open_registries(parts);
  Status opened = co_await std::move(opening);
  if (!opened) co_return opened;
  for (auto* stage : {&server::build_services, &server::listen_grpc, &server::listen_agents,
                      &server::listen_callbacks, &server::build_actions, &server::listen_http}) {
    if (auto done = (*stage)(parts); !done) co_return done;
  }
  Status drivers = co_await add_external_drivers(parts);
  if (!drivers) co_return drivers;
  if (auto repaired = co_await parts.action_log->repair_interrupted(); !repaired)
    spdlog::error("could not mark interrupted actions: {}", repaired.error().message);
  const jobs::LeaseOptions lease{parts.server_id, kLeaseSeconds};
  if (auto leased = co_await parts.jobs->take_lease(lease); !leased)
    co_return make_error(leased.error().code, "cannot take this server's lease: " + leased.error().message);
  if (auto recovered = co_await parts.jobs->recover(); !recovered)
    spdlog::error("could not recover unfinished jobs: {}", recovered.error().message);
  parts.http->start();
  server::publish_address(parts, "http.addr", address_text(parts.http_endpoint));
  spdlog::info("steward {} serving the REST API on {} ({} hosts in the inventory, at most {} connections)",
               STEWARD_VERSION, http_url(), parts.inventory->hosts().size(), parts.http_max_connections);
  const ServeSettings& settings = parts.settings;
  parts.background.spawn("pruning condition values",
                         parts.deputy->prune_values_periodically(std::chrono::hours(settings.condition_values_hours),
                                                                 kValuePrunePeriod));
  parts.background.spawn("keeping the lease", parts.jobs->keep_lease(kStorePoll));
  parts.background.spawn("placing conditions", parts.deputy->place_conditions_periodically(kConditionPlacementPeriod));
  parts.background.spawn("job pruning",
                         parts.jobs->prune_periodically(std::chrono::hours(24) * settings.retention_days, kPrunePeriod));
  parts.background.spawn("sharing target health",
                         inventory::share_health_periodically(*parts.target_health, *parts.store, kHealthSharePeriod));
  if (settings.audit_days > 0)
    parts.background.spawn("audit pruning", parts.audit->prune_periodically(
                                                std::chrono::hours(24) * settings.audit_days, kPrunePeriod));
  parts.watchdog->start();
  co_return Status{};
}

// What a failed start leaves open: listeners whose calls need the loop to end.
asio::awaitable<void> Server::close_listeners() {
  Parts& parts = *parts_;
  if (parts.grpc) co_await parts.grpc->shutdown();
  if (parts.agent_listener) co_await parts.agent_listener->shutdown();
  if (parts.callback_endpoint) parts.callback_endpoint->shutdown();
  for (const auto& path : parts.published) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
  parts.published.clear();
}

asio::awaitable<void> Server::stop() {
  if (phase_ != Phase::Serving) co_return;
  phase_ = Phase::Stopping;
  Parts& parts = *parts_;
  parts.http->stop_accepting();
  parts.conditions->stop_all(make_error(ErrorCode::Unavailable, "the server is shutting down"));
  parts.action_router->cancel_all("the server is shutting down");
  parts.deputy->stop();
  co_await parts.jobs->shutdown(std::chrono::seconds(parts.settings.grace_seconds));
  co_await parts.background.cancel_all();
  co_await parts.jobs->release_lease();  // what is left pending is free for another server at once
  co_await close_listeners();
  parts.http->close_all();
  parts.transports.shutdown_all();
  asio::steady_timer settle(parts.executor, kSettle);
  co_await settle.async_wait(asio::as_tuple(asio::use_awaitable));
  parts.watchdog->stop();
  phase_ = Phase::Stopped;
}

const std::string& Server::server_id() const { return parts_->server_id; }

int Server::http_port() const { return parts_->http_endpoint.port(); }

std::optional<int> Server::grpc_port() const { return parts_->grpc_port; }

std::optional<int> Server::agent_port() const { return parts_->agent_port; }

std::optional<int> Server::callback_port() const { return parts_->callback_port; }

std::string Server::http_url() const {
  return std::string(parts_->http_tls ? "https" : "http") + "://" + address_text(parts_->http_endpoint);
}

jobs::JobService& Server::jobs() { return *parts_->jobs; }

}  // namespace steward
