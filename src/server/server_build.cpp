// Start-up, first half: what the server reads (data dir, keys, token,
// inventory, TLS, tasks), the store and its registries, and the services.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/ids.hpp"
#include "core/secret_box.hpp"
#include "server/server_id.hpp"
#include "server/server_parts.hpp"
#include "tls/self_signed.hpp"

namespace steward::server {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;

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

Result<inventory::Inventory> load_inventory(const ServeSettings& settings) {
  if (settings.inventory.empty()) return inventory::Inventory::builtin();
  return inventory::Inventory::load_file(settings.inventory);
}

Status prefixed(const char* prefix, const Error& error) {
  return make_error(error.code, std::string(prefix) + error.message);
}

// The data dir, the server id, the secret box and the API token.
Status open_data_dir(Server::Parts& parts) {
  const ServeSettings& settings = parts.settings;
  std::error_code ec;
  fs::create_directories(settings.data_dir, ec);
  if (ec) return make_error(ErrorCode::Internal, "cannot create data dir " + settings.data_dir + ": " + ec.message());
  restrict_tree_to_owner(settings.data_dir);
  auto id = resolve_server_id(settings.server_id, settings.data_dir);
  if (!id) return id.error();
  parts.server_id = std::move(*id);
  auto secret_box =
      load_or_create_secret_box(settings.secret_key, (fs::path(settings.data_dir) / "secret.key").string());
  if (!secret_box) return secret_box.error();
  auto secret_names = SecretNames::parse(settings.secret_env_pattern);
  if (!secret_names) return prefixed("--secret-env-pattern: ", secret_names.error());
  parts.secrets.emplace(std::move(*secret_box), std::move(*secret_names));
  if (settings.no_auth) {
    spdlog::warn("AUTHENTICATION IS OFF (--no-auth): anyone who can reach {} can run commands", settings.http);
    return {};
  }
  auto token = load_or_create_token(settings);
  if (!token) return token.error();
  parts.token = std::move(*token);
  return {};
}

}  // namespace

Status read_configuration(Server::Parts& parts) {
  const ServeSettings& settings = parts.settings;
  if (auto opened = open_data_dir(parts); !opened) return opened;
  auto http_allow = AllowList::parse(settings.http_allow);
  if (!http_allow) return prefixed("--http-allow: ", http_allow.error());
  parts.http_allow = std::move(*http_allow);
  auto grpc_allow = AllowList::parse(settings.grpc_allow);
  if (!grpc_allow) return prefixed("--grpc-allow: ", grpc_allow.error());
  parts.grpc_allow = std::move(*grpc_allow);
  if (!parts.token.empty() && !settings.http_allow.empty())
    spdlog::info("REST clients from {} need no token and have the operate role (--http-allow)", settings.http_allow);
  if (!parts.token.empty() && !settings.grpc_allow.empty())
    spdlog::info("gRPC clients from {} need no token and have the operate role (--grpc-allow)", settings.grpc_allow);
  auto inventory = load_inventory(settings);
  if (!inventory) return inventory.error();
  parts.inventory.emplace(std::move(*inventory));
  auto tls_identity = load_tls_identity(settings);
  if (!tls_identity) return tls_identity.error();
  parts.tls_identity = std::move(*tls_identity);
  if (!settings.grpc_client_ca.empty()) {
    auto loaded = tls::load_certificates(settings.grpc_client_ca);
    if (!loaded) return prefixed("--grpc-client-ca: ", loaded.error());
    parts.grpc_client_ca = std::move(*loaded);
  }
  auto task_file = load_tasks(settings);
  if (!task_file) return task_file.error();
  parts.task_file = std::move(*task_file);
  auto store = store::open_store({settings.store, settings.data_dir, parts.executor, &parts.store_metrics});
  if (!store) return store.error();
  parts.store = std::move(*store);
  return {};
}

namespace {

// The audit trail goes to the store always, to this file unless --audit-log off ("").
std::string audit_file(const ServeSettings& settings) {
  if (settings.audit_log == "off") return "";
  if (!settings.audit_log.empty()) return settings.audit_log;
  return (fs::path(settings.data_dir) / "audit.jsonl").string();
}

}  // namespace

asio::awaitable<Status> open_registries(Server::Parts& parts) {
  const ServeSettings& settings = parts.settings;
  // Named tokens are in memory before any listener opens, so none is refused at start.
  parts.tokens.emplace(parts.executor, *parts.store, parts.token);
  auto loading = parts.tokens->load();
  auto loaded = co_await std::move(loading);
  if (!loaded) co_return prefixed("cannot read the API tokens: ", loaded.error());
  parts.audit.emplace(parts.executor, *parts.store, audit_file(settings));
  if (auto opened = parts.audit->open(); !opened) co_return opened.error();
  // Agents (issue 13): the agent CA (made on the first start) and the directory of agents.
  auto opening = agents::open_trust(settings.data_dir, *parts.store);
  auto trust = co_await std::move(opening);
  if (!trust) co_return trust.error();
  parts.agent_trust = std::move(*trust);
  // With --agent-listen, the hub the agent transport runs through.
  if (settings.agent_listen != "off")
    parts.agent_hub = std::make_shared<transport::agent::AgentHub>(
        parts.executor, transport::agent::HubOptions{std::chrono::seconds(settings.agent_wait_seconds)},
        parts.agent_trust.get());
  // SSH callback targets (issue 14): registrations and the endpoint, with --callback only.
  if (settings.callback == "off") co_return Status{};
  auto registering = callback::open_registry(settings.data_dir, *parts.store);
  auto callbacks = co_await std::move(registering);
  if (!callbacks) co_return callbacks.error();
  parts.callbacks = std::move(*callbacks);
  parts.callback_endpoint = std::make_unique<callback::CallbackEndpoint>(
      parts.executor, *parts.callbacks,
      callback::EndpointOptions{.wait = std::chrono::seconds(settings.callback_wait_seconds),
                                .keepalive = std::chrono::seconds(settings.ssh_keepalive_seconds)});
  co_return Status{};
}

}  // namespace steward::server
