#pragma once
// Reading TLS material from PEM files, checked before any listener uses it:
// a certificate chain and its private key (which must match), or a bundle of
// CA certificates. Messages name the file; they never quote key material.
#include <string>

#include "core/result.hpp"

namespace steward::tls {

// A server's (or, later, an agent's) certificate chain and private key.
struct Identity {
  std::string certificate_chain_pem;  // leaf first, then intermediates
  std::string private_key_pem;        // secret: never logged
  std::string fingerprint;            // of the leaf: see sha256_fingerprint
  bool expired = false;               // the leaf's notAfter has passed
};

// InvalidArgument (naming the file) when a file is missing, not a regular
// file, holds no certificate or key, holds an encrypted key (steward takes
// unencrypted keys only: no passphrase to prompt for or to leak), or when the
// key does not belong to the first certificate.
Result<Identity> load_identity(const std::string& certificate_path, const std::string& key_path);

// One or more PEM certificates (a CA bundle); InvalidArgument otherwise.
Result<std::string> load_certificates(const std::string& path);

// "sha256:AB:CD:..." (upper-case hex pairs joined by colons): the SHA-256 of
// the first certificate's DER encoding, the same hex `openssl x509
// -fingerprint -sha256` prints.
Result<std::string> sha256_fingerprint(const std::string& certificate_pem);

}  // namespace steward::tls
