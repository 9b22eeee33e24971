#pragma once
// OpenSSL contexts for Asio/Beast streams: the REST server's, and the CLI's
// (verifying the server against a CA file or the system store, or not at
// all when asked).
#include <memory>
#include <string>

#include "core/result.hpp"

namespace boost::asio::ssl {
class context;
}
struct ssl_st;

namespace steward::tls {

struct Identity;

// TLS 1.2 or newer, serving `identity`'s chain and key.
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_context(const Identity& identity);

struct ClientTrust {
  std::string ca_file;    // PEM CA certificates; empty: the system's store
  bool insecure = false;  // accept any certificate (the caller warns)
  // "sha256:AB:CD:..." (colons and case optional): accept exactly the
  // certificate with this fingerprint, whoever signed it and whatever names
  // it holds (for a --tls auto server); ca_file and the system store are
  // then not used.
  std::string fingerprint;
};

Result<std::shared_ptr<boost::asio::ssl::context>> make_client_context(const ClientTrust& trust);

// Before one connection's handshake: sends `host` as SNI (names only) and,
// unless `check_name` is false, makes verification require it (a DNS name
// or an IP address) in the server's certificate.
Status expect_server_name(ssl_st* session, const std::string& host, bool check_name = true);

// After a failed handshake: why the server's certificate was refused
// ("self-signed certificate", "hostname mismatch", ...), or "" if the
// certificate was not the reason.
std::string verification_failure(ssl_st* session);

}  // namespace steward::tls
