#pragma once
// Which machines may call back (issue 14): a registration names a target and
// the public key its VM logs in to the callback endpoint with. Persisted
// through the store's records (kind "callback"), like the agent directory.
// The server's own keys live in <data-dir>/callback/ (0600): the controller
// key steward logs in to the VMs with, and the endpoint's host key. Only
// public keys ever leave this module.
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace steward::store { class Store; }

namespace steward::callback {

struct Registration {
  std::string name;             // the target, also its inventory host
  std::string user = "root";    // steward logs in to the VM's sshd as this user
  std::string public_key;       // the VM's callback key, "TYPE BASE64"
  std::string key_fingerprint;  // "SHA256:..." of public_key
  std::string host_key;         // the VM sshd's key pinned at registration; empty: trust on first callback
  double created_at = 0;        // Unix seconds
  // Issue 14's literal variant (`callback add --sshd`): the VM forwards its
  // sshd to 127.0.0.1:sshd_port on the controller's own OpenSSH server, and
  // steward reaches it there as a plain SSH host; 0 for a callback to
  // steward's endpoint. Unique among registrations, persisted.
  int sshd_port = 0;
  // Live, kept in memory by the endpoint (not persisted).
  bool connected = false;
  double connected_since = 0;
  double last_seen = 0;
  std::string address;  // HOST:PORT the live (or last) callback came from
};

struct NewRegistration {
  std::string name;
  std::string public_key;
  std::string user;      // empty: root
  std::string host_key;  // optional
  bool sshd = false;     // the literal variant: a loopback port is allocated
};

// The loopback address the controller's sshd listens on for --sshd targets.
inline constexpr const char* kSshdListenHost = "127.0.0.1";
// How --sshd targets' host keys are named in ServerKeys::known_hosts.
std::string sshd_known_hosts_name(int port);

// The variables of the inventory host a registration adds: reached through
// its callback session (steward_callback=NAME), or for --sshd as a plain SSH
// host at 127.0.0.1:sshd_port (steward_callback_sshd=NAME).
std::map<std::string, std::string> callback_host_vars(const Registration& registration);

// Where the server's keys are; the public halves as OpenSSH lines.
struct ServerKeys {
  std::string controller_key_file;
  std::string controller_public_key;
  std::string endpoint_host_key_file;
  std::string endpoint_public_key;
  std::string known_hosts;  // the callback targets' sshd keys, by target name
};

class Registry {
 public:
  virtual ~Registry() = default;

  virtual const ServerKeys& keys() const = 0;

  // InvalidArgument for a bad name or key, Conflict when the name or the key
  // is registered already. With `sshd`, allocates a loopback port that no
  // other registration holds and nothing listens on right now (Unavailable
  // when none is found). Calls every on_added callback.
  virtual boost::asio::awaitable<Result<Registration>> add(NewRegistration request) = 0;
  // NotFound when unknown. Calls every on_removed callback (the endpoint cuts
  // a live session) and forgets the target's recorded host key.
  virtual boost::asio::awaitable<Status> remove(std::string name) = 0;
  virtual std::vector<Registration> list() const = 0;
  virtual std::optional<Registration> find(const std::string& name) const = 0;
  virtual std::optional<Registration> find_by_fingerprint(const std::string& fingerprint) const = 0;

  // Loop only. Live state, from the endpoint.
  virtual void note_connected(const std::string& name, const std::string& address) = 0;
  virtual void note_seen(const std::string& name) = 0;
  virtual void note_disconnected(const std::string& name) = 0;
  virtual void on_removed(std::function<void(const std::string& name)> callback) = 0;
  virtual void on_added(std::function<void(const Registration& registration)> callback) = 0;
};

// Creates <data_dir>/callback (0700) and the server's keys on first use,
// then loads the registrations from the store.
boost::asio::awaitable<Result<std::unique_ptr<Registry>>> open_registry(const std::string& data_dir,
                                                                        store::Store& store);

}  // namespace steward::callback
