#pragma once
// Building blocks for certificates steward makes itself (the `--tls auto`
// certificate, the agent CA and what it issues); private to src/tls.
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "tls/openssl_util.hpp"

namespace steward::tls {

// An Internal error naming the step and OpenSSL's reason.
Error openssl_failure(const std::string& step);

KeyPtr generate_p256_key();

// One certificate to make: who it names and what it may do.
struct CertificateSpec {
  std::string common_name;
  long not_before_offset_seconds = -300;  // into the past, against clock skew
  long valid_seconds = 0;
  // name → value pairs for X509V3_EXT_conf_nid (e.g. NID_key_usage → "critical,keyCertSign").
  std::vector<std::pair<int, std::string>> extensions;
};

// A certificate for `subject_key`, signed by `issuer_key` under `issuer`
// (self-signed when `issuer` is null: then `issuer_key` signs its own).
Result<X509Ptr> make_certificate(const CertificateSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                                 EVP_PKEY* issuer_key);

// "DNS:a,DNS:b,IP:127.0.0.1" for a subjectAltName extension.
std::string subject_alt_names(const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses);

// Writes `text` to PATH.tmp (0600) and renames it to PATH.
Status write_file_atomically(const std::string& path, const std::string& text);

}  // namespace steward::tls
