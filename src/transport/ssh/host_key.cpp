#include "transport/ssh/host_key.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <memory>

namespace steward::transport::ssh {

Result<HostKeyPolicy> parse_host_key_policy(const std::string& text) {
  if (text == "strict" || text == "yes" || text == "true") return HostKeyPolicy::Strict;
  if (text.empty() || text == "accept-new") return HostKeyPolicy::AcceptNew;
  if (text == "off" || text == "no" || text == "false") return HostKeyPolicy::Off;
  return make_error(ErrorCode::InvalidArgument,
                    "steward_host_key_checking must be strict, accept-new or off, not '" + text + "'");
}

std::string fingerprint(ssh_key key) {
  unsigned char* hash = nullptr;
  size_t length = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) != SSH_OK) return "(unknown)";
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length);
  std::string result = text ? text : "(unknown)";
  ssh_string_free_char(text);
  ssh_clean_pubkey_hash(&hash);
  return result;
}

namespace {

// libssh reports a changed key without the entry it was compared with, so
// the recorded key is looked up here, preferring one of the offered type.
std::string known_fingerprint(ssh_session session, const Endpoint& endpoint, ssh_key offered) {
  const std::string host =
      endpoint.port == 22 ? endpoint.host : fmt::format("[{}]:{}", endpoint.host, endpoint.port);
  std::string fallback = "(unknown)";
  for (auto option : {SSH_OPTIONS_KNOWNHOSTS, SSH_OPTIONS_GLOBAL_KNOWNHOSTS}) {
    char* path = nullptr;
    if (ssh_options_get(session, option, &path) != SSH_OK || !path) continue;
    std::ifstream file(path);
    ssh_string_free_char(path);
    for (std::string line; std::getline(file, line);) {
      struct ssh_knownhosts_entry* entry = nullptr;
      if (ssh_known_hosts_parse_line(host.c_str(), line.c_str(), &entry) != SSH_OK || !entry) continue;
      std::unique_ptr<ssh_knownhosts_entry, void (*)(ssh_knownhosts_entry*)> owned(
          entry, [](ssh_knownhosts_entry* e) { ssh_knownhosts_entry_free(e); });
      if (!entry->publickey) continue;
      if (ssh_key_type(entry->publickey) == ssh_key_type(offered)) return fingerprint(entry->publickey);
      if (fallback == "(unknown)") fallback = fingerprint(entry->publickey);
    }
  }
  return fallback;
}

}  // namespace

Status verify_host_key(ssh_session session, const Endpoint& endpoint) {
  ssh_key server_key = nullptr;
  if (ssh_get_server_publickey(session, &server_key) != SSH_OK) {
    return make_error(ErrorCode::Unreachable, endpoint.target + ": the server sent no host key");
  }
  KeyPtr owned(server_key);
  const std::string offered = fingerprint(server_key);
  const std::string where = endpoint.where();

  switch (ssh_session_is_known_server(session)) {
    case SSH_KNOWN_HOSTS_OK:
      return {};
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER: {
      std::string message = fmt::format("host key for {} changed: known {}, offered {}", where,
                                        known_fingerprint(session, endpoint, server_key), offered);
      if (endpoint.host_key_policy == HostKeyPolicy::Off) {
        spdlog::warn("{} (host key checking is off)", message);
        return {};
      }
      return make_error(ErrorCode::Unreachable, message + "; refusing to connect");
    }
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
      if (endpoint.host_key_policy == HostKeyPolicy::Strict) {
        return make_error(ErrorCode::Unreachable,
                          fmt::format("host key for {} is not known ({}) and host key checking is strict", where,
                                      offered));
      }
      if (endpoint.host_key_policy == HostKeyPolicy::Off) {
        spdlog::warn("host key for {} not verified ({}): host key checking is off", where, offered);
        return {};
      }
      if (ssh_session_update_known_hosts(session) != SSH_OK) {
        return make_error(ErrorCode::Internal, fmt::format("cannot record the host key of {}: {}", where,
                                                           ssh_get_error(session)));
      }
      spdlog::info("recorded new host key for {}: {}", where, offered);
      return {};
    case SSH_KNOWN_HOSTS_ERROR:
      break;
  }
  return make_error(ErrorCode::Unreachable,
                    fmt::format("cannot check the host key of {}: {}", where, ssh_get_error(session)));
}

Result<KeyPtr> load_private_key(const Endpoint& endpoint) {
  ssh_key key = nullptr;
  if (!endpoint.key_material.empty()) {
    if (ssh_pki_import_privkey_base64(endpoint.key_material.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
      return make_error(ErrorCode::InvalidArgument, "the private key given is not a readable unencrypted key");
    }
    return KeyPtr(key);
  }
  std::string path = endpoint.key_file;
  if (path.starts_with("~/")) {
    const char* home = std::getenv("HOME");
    path = std::string(home ? home : "") + path.substr(1);
  }
  if (ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
    return make_error(ErrorCode::InvalidArgument,
                      "cannot read private key file " + path + " (missing, unreadable or passphrase-protected)");
  }
  return KeyPtr(key);
}

}  // namespace steward::transport::ssh
