#include "tls/identity.hpp"

#include <openssl/x509.h>

#include "tls/openssl_util.hpp"

namespace steward::tls {
namespace {

bool looks_encrypted(const std::string& pem) {
  return pem.find("ENCRYPTED") != std::string::npos;
}

}  // namespace

Result<Identity> load_identity(const std::string& certificate_path, const std::string& key_path) {
  auto chain_text = read_pem_file(certificate_path, "TLS certificate");
  if (!chain_text) return chain_text.error();
  auto chain = parse_certificates(*chain_text);
  if (chain.empty())
    return make_error(ErrorCode::InvalidArgument, "TLS certificate " + certificate_path + ": no PEM certificate in it");
  auto key_text = read_pem_file(key_path, "TLS key");
  if (!key_text) return key_text.error();
  if (looks_encrypted(*key_text))
    return make_error(ErrorCode::InvalidArgument, "TLS key " + key_path +
                                                      ": encrypted; steward needs an unencrypted key readable only by "
                                                      "its user (openssl pkey -in KEY -out KEY.plain; chmod 600)");
  auto key = parse_private_key(*key_text);
  if (!key) {
    const std::string reason = take_openssl_error();
    return make_error(ErrorCode::InvalidArgument,
                      "TLS key " + key_path + ": not a PEM private key" + (reason.empty() ? "" : " (" + reason + ")"));
  }
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    take_openssl_error();
    return make_error(ErrorCode::InvalidArgument,
                      "TLS key " + key_path + " does not belong to the certificate in " + certificate_path);
  }
  Identity identity;
  identity.certificate_chain_pem = std::move(*chain_text);
  identity.private_key_pem = std::move(*key_text);
  identity.fingerprint = fingerprint_of(chain.front().get());
  identity.expired = X509_cmp_current_time(X509_get0_notAfter(chain.front().get())) < 0;
  return identity;
}

Result<std::string> load_certificates(const std::string& path) {
  auto text = read_pem_file(path, "CA certificates");
  if (!text) return text.error();
  if (parse_certificates(*text).empty())
    return make_error(ErrorCode::InvalidArgument, "CA certificates " + path + ": no PEM certificate in it");
  return text;
}

Result<std::string> sha256_fingerprint(const std::string& certificate_pem) {
  auto certificates = parse_certificates(certificate_pem);
  if (certificates.empty()) return make_error(ErrorCode::InvalidArgument, "no PEM certificate");
  return fingerprint_of(certificates.front().get());
}

}  // namespace steward::tls
