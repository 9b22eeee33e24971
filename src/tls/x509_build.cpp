#include "tls/x509_build.hpp"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace steward::tls {
namespace {

bool add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (!extension) return false;
  const bool added = X509_add_ext(certificate, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return added;
}

bool set_random_serial(X509* certificate) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), BN_free);
  // 159 random bits: positive and at most 20 octets (RFC 5280, 4.1.2.2).
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) return false;
  return BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate)) != nullptr;
}

}  // namespace

Error openssl_failure(const std::string& step) {
  const std::string reason = take_openssl_error();
  return make_error(ErrorCode::Internal, "creating a TLS certificate: " + step + (reason.empty() ? "" : ": " + reason));
}

KeyPtr generate_p256_key() { return KeyPtr(EVP_EC_gen("P-256")); }

std::string subject_alt_names(const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses) {
  std::string text;
  auto add = [&text](const std::string& kind, const std::string& value) {
    if (value.empty()) return;
    if (!text.empty()) text += ',';
    text += kind + ":" + value;
  };
  for (const auto& name : dns_names) add("DNS", name);
  for (const auto& address : ip_addresses) add("IP", address);
  return text;
}

Result<X509Ptr> make_certificate(const CertificateSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                                 EVP_PKEY* issuer_key) {
  X509Ptr certificate(X509_new());
  if (!certificate) return openssl_failure("X509_new");
  X509* cert = certificate.get();
  X509_NAME* subject = X509_get_subject_name(cert);
  const auto* common_name = reinterpret_cast<const unsigned char*>(spec.common_name.c_str());
  bool ok = X509_set_version(cert, X509_VERSION_3) == 1 && set_random_serial(cert) &&
            X509_gmtime_adj(X509_getm_notBefore(cert), spec.not_before_offset_seconds) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert), spec.valid_seconds) != nullptr &&
            X509_set_pubkey(cert, subject_key) == 1 &&
            X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, common_name, -1, -1, 0) == 1 &&
            X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : subject) == 1;
  if (!ok) return openssl_failure("filling in the certificate");
  X509* signer = issuer ? issuer : cert;
  for (const auto& [nid, value] : spec.extensions)
    if (!add_extension(cert, signer, nid, value)) return openssl_failure("adding extensions");
  if (X509_sign(cert, issuer_key, EVP_sha256()) == 0) return openssl_failure("signing");
  return certificate;
}

Status write_file_atomically(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  const std::string temporary = path + ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::Internal, "cannot write " + temporary + ": " + std::strerror(errno));
  bool written = ::fchmod(fd, 0600) == 0 &&
                 ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (written) fs::rename(temporary, path, ec);
  if (!written || ec) {
    fs::remove(temporary, ec);
    return make_error(ErrorCode::Internal, "cannot write " + path);
  }
  return {};
}

}  // namespace steward::tls
