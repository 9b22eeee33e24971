#include "callback/registry.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "callback/keys.hpp"
#include "callback/stored.hpp"
#include "core/clock.hpp"
#include "store/store.hpp"

namespace steward::callback {
namespace {

namespace fs = std::filesystem;

const std::string kRecords = kCallbackKind;

Status check_user(const std::string& user) {
  bool valid = !user.empty() && user.size() <= 32 && user.front() != '-';
  for (char c : user)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') valid = false;
  if (!valid)
    return make_error(ErrorCode::InvalidArgument, "user: 1 to 32 letters, digits, '.', '_' or '-', not starting "
                                                  "with '-'");
  return {};
}

// A port the kernel finds free on the loopback address (bound, then let go),
// or 0. The controller's sshd listens there once the VM calls back.
int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  ::inet_pton(AF_INET, kSshdListenHost, &address.sin_addr);
  socklen_t size = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0)
    port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

// The lines of the targets' known_hosts: "NAME TYPE BASE64", one name per
// line; written whole (a pin added, a removed target's key forgotten).
class KnownHosts {
 public:
  explicit KnownHosts(std::string path) : path_(std::move(path)) {}

  Status replace(const std::string& name, const std::string& key_line) {
    std::string kept;
    std::ifstream in(path_);
    for (std::string line; std::getline(in, line);)
      if (!line.starts_with(name + " ") && !line.empty()) kept += line + "\n";
    if (!key_line.empty()) kept += name + " " + key_line + "\n";
    const std::string temporary = path_ + ".new";
    {
      std::ofstream out(temporary, std::ios::trunc);
      out << kept;
      if (!out) return make_error(ErrorCode::Internal, "cannot write " + temporary);
    }
    std::error_code ec;
    fs::rename(temporary, path_, ec);
    if (ec) return make_error(ErrorCode::Internal, "cannot replace " + path_ + ": " + ec.message());
    return {};
  }

 private:
  std::string path_;
};

class StoredRegistry final : public Registry {
 public:
  StoredRegistry(ServerKeys keys, store::Store& store) : keys_(std::move(keys)), store_(store) {}

  boost::asio::awaitable<Status> load() {
    auto records = co_await store_.list_records(kRecords);
    if (!records) co_return records.error();
    for (const auto& json : *records) {
      auto registration = registration_from_json(json);
      if (!registration) {
        spdlog::warn("a callback registration in the store is unreadable: ignored (register the target again)");
        continue;
      }
      registrations_[registration->name] = std::move(*registration);
    }
    co_return Status{};
  }

  const ServerKeys& keys() const override { return keys_; }

  boost::asio::awaitable<Result<Registration>> add(NewRegistration request) override {
    if (auto valid = check_callback_name(request.name); !valid) co_return valid.error();
    if (request.user.empty()) request.user = "root";
    if (auto valid = check_user(request.user); !valid) co_return valid.error();
    auto key = parse_public_key(request.public_key);
    if (!key) co_return key.error();
    std::string host_key;
    if (!request.host_key.empty()) {
      auto pinned = parse_public_key(request.host_key, "host_key");
      if (!pinned) co_return pinned.error();
      host_key = pinned->line();
    }
    if (registrations_.contains(request.name))
      co_return make_error(ErrorCode::Conflict, "callback target '" + request.name + "' is registered already (remove "
                                                "it first to register a new key)");
    if (auto same = find_by_fingerprint(key->fingerprint))
      co_return make_error(ErrorCode::Conflict, "this key is registered already, for '" + same->name + "'");

    Registration registration;
    if (request.sshd) {
      registration.sshd_port = allocate_sshd_port();
      if (registration.sshd_port == 0)
        co_return make_error(ErrorCode::Unavailable, "no free loopback port found for " + request.name);
    }
    registration.name = request.name;
    registration.user = request.user;
    registration.public_key = key->line();
    registration.key_fingerprint = key->fingerprint;
    registration.host_key = host_key;
    registration.created_at = unix_now();
    // The pin (or, without one, no stale key of an earlier target of this name).
    if (auto pinned = KnownHosts(keys_.known_hosts).replace(known_hosts_name(registration), host_key); !pinned)
      co_return pinned.error();
    registrations_[registration.name] = registration;
    auto saved = co_await store_.put_record(kRecords, registration.name, to_json(registration));
    if (!saved) {
      registrations_.erase(registration.name);
      co_return saved.error();
    }
    for (const auto& callback : added_callbacks_) callback(registration);
    co_return registration;
  }

  boost::asio::awaitable<Status> remove(std::string name) override {
    auto found = registrations_.find(name);
    if (found == registrations_.end())
      co_return make_error(ErrorCode::NotFound, "no callback target '" + name + "'");
    const std::string pinned_as = known_hosts_name(found->second);
    auto deleted = co_await store_.delete_record(kRecords, name);
    if (!deleted) co_return deleted.error();
    registrations_.erase(name);
    // A later --sshd registration given the same port must not meet this key.
    if (auto forgotten = KnownHosts(keys_.known_hosts).replace(pinned_as, ""); !forgotten)
      spdlog::warn("callback {}: {}", name, forgotten.error().message);
    for (const auto& callback : removed_callbacks_) callback(name);
    co_return Status{};
  }

  std::vector<Registration> list() const override {
    std::vector<Registration> listed;
    for (const auto& [name, registration] : registrations_) listed.push_back(registration);
    return listed;
  }

  std::optional<Registration> find(const std::string& name) const override {
    auto found = registrations_.find(name);
    if (found == registrations_.end()) return std::nullopt;
    return found->second;
  }

  std::optional<Registration> find_by_fingerprint(const std::string& fingerprint) const override {
    for (const auto& [name, registration] : registrations_)
      if (registration.key_fingerprint == fingerprint) return registration;
    return std::nullopt;
  }

  void note_connected(const std::string& name, const std::string& address) override {
    auto found = registrations_.find(name);
    if (found == registrations_.end()) return;
    found->second.connected = true;
    found->second.connected_since = found->second.last_seen = unix_now();
    found->second.address = address;
  }

  void note_seen(const std::string& name) override {
    if (auto found = registrations_.find(name); found != registrations_.end()) found->second.last_seen = unix_now();
  }

  void note_disconnected(const std::string& name) override {
    auto found = registrations_.find(name);
    if (found == registrations_.end()) return;
    found->second.connected = false;
    found->second.last_seen = unix_now();
  }

  void on_removed(std::function<void(const std::string&)> callback) override {
    removed_callbacks_.push_back(std::move(callback));
  }

  void on_added(std::function<void(const Registration&)> callback) override {
    added_callbacks_.push_back(std::move(callback));
  }

 private:
  static std::string known_hosts_name(const Registration& registration) {
    return registration.sshd_port ? sshd_known_hosts_name(registration.sshd_port) : registration.name;
  }

  int allocate_sshd_port() const {
    std::set<int> taken;
    for (const auto& [name, registration] : registrations_)
      if (registration.sshd_port) taken.insert(registration.sshd_port);
    for (int attempt = 0; attempt < 64; ++attempt) {
      const int port = free_loopback_port();
      if (port != 0 && !taken.contains(port)) return port;
    }
    return 0;
  }

  ServerKeys keys_;
  store::Store& store_;
  std::map<std::string, Registration> registrations_;  // loop only
  std::vector<std::function<void(const std::string&)>> removed_callbacks_;
  std::vector<std::function<void(const Registration&)>> added_callbacks_;
};

}  // namespace

std::map<std::string, std::string> callback_host_vars(const Registration& registration) {
  if (registration.sshd_port == 0)
    return {{"ansible_connection", "ssh"}, {"steward_callback", registration.name}, {"ansible_user", registration.user}};
  return {{"ansible_connection", "ssh"},
          {"ansible_host", kSshdListenHost},
          {"ansible_port", std::to_string(registration.sshd_port)},
          {"ansible_user", registration.user},
          {"steward_callback_sshd", registration.name}};
}

std::string sshd_known_hosts_name(int port) { return "[" + std::string(kSshdListenHost) + "]:" + std::to_string(port); }

boost::asio::awaitable<Result<std::unique_ptr<Registry>>> open_registry(const std::string& data_dir,
                                                                        store::Store& store) {
  const fs::path dir = fs::path(data_dir) / "callback";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) co_return make_error(ErrorCode::Internal, "cannot create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);
  ServerKeys keys;
  keys.controller_key_file = (dir / "controller_key").string();
  keys.endpoint_host_key_file = (dir / "endpoint_host_key").string();
  keys.known_hosts = (dir / "known_hosts").string();
  auto controller = ensure_key_file(keys.controller_key_file, "steward-controller");
  if (!controller) co_return controller.error();
  keys.controller_public_key = std::move(*controller);
  auto endpoint = ensure_key_file(keys.endpoint_host_key_file, "");
  if (!endpoint) co_return endpoint.error();
  keys.endpoint_public_key = std::move(*endpoint);
  auto registry = std::make_unique<StoredRegistry>(std::move(keys), store);
  auto loaded = co_await registry->load();
  if (!loaded) co_return loaded.error();
  co_return std::unique_ptr<Registry>(std::move(registry));
}

}  // namespace steward::callback
