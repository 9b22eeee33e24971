#pragma once
// The agent listener's TLS files as gRPC's FileWatcherCertificateProvider
// reads them (issue 13: the certificate is renewed while the server runs).
// They sit in a folder reached through the symlink CA_DIR/listener, which a
// renewal replaces whole with one rename: the watcher re-reads when a file's
// time changes, so it never pairs a new key with an old certificate.
#include <string>

#include "core/result.hpp"

namespace steward::tls { struct Identity; }

namespace steward::agents {

struct ListenerFiles {
  std::string private_key;        // CA_DIR/listener/server.key (0600)
  std::string certificate_chain;  // CA_DIR/listener/server.pem (leaf + CA)
  std::string ca;                 // CA_DIR/listener/ca.pem: client certificates must chain to it
};

// Writes `identity` and `ca_pem` into a new CA_DIR/listener-HEX (0700),
// points CA_DIR/listener at it and removes the folders it replaced.
Result<ListenerFiles> publish_listener_files(const std::string& ca_dir, const tls::Identity& identity,
                                             const std::string& ca_pem);

}  // namespace steward::agents
