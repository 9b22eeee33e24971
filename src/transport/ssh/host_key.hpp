#pragma once
// Host-key trust and client keys: the parts of a handshake that decide
// whether steward may talk to this host, and as whom.
#include <libssh/libssh.h>

#include <memory>
#include <string>

#include "core/result.hpp"
#include "transport/ssh/connection.hpp"

namespace steward::transport::ssh {

// "strict", "accept-new" (also "yes"/"no" as in Ansible: strict/off), "off".
Result<HostKeyPolicy> parse_host_key_policy(const std::string& text);

// Checks the server's key against the known_hosts files set on the session,
// by the endpoint's policy; records a first key under accept-new. The error
// names the host and, for a changed key, both fingerprints.
Status verify_host_key(ssh_session session, const Endpoint& endpoint);

struct KeyDeleter {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;

// The endpoint's key material or key file (never quoted in the error).
Result<KeyPtr> load_private_key(const Endpoint& endpoint);

// "SHA256:..." of a public key.
std::string fingerprint(ssh_key key);

}  // namespace steward::transport::ssh
