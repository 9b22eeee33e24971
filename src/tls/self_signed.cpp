#include "tls/self_signed.hpp"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tls/openssl_util.hpp"

namespace steward::tls {
namespace {

namespace fs = std::filesystem;

Error openssl_failure(const std::string& step) {
  const std::string reason = take_openssl_error();
  return make_error(ErrorCode::Internal, "creating a TLS certificate: " + step + (reason.empty() ? "" : ": " + reason));
}

KeyPtr generate_p256_key() { return KeyPtr(EVP_EC_gen("P-256")); }

std::string subject_alt_names(const CertificateNames& names) {
  std::string text;
  auto add = [&text](const std::string& kind, const std::string& value) {
    if (value.empty()) return;
    if (!text.empty()) text += ',';
    text += kind + ":" + value;
  };
  for (const auto& name : names.dns_names) add("DNS", name);
  for (const auto& address : names.ip_addresses) add("IP", address);
  return text;
}

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

// A server certificate for `subject_key`, signed by `issuer_key` under
// `issuer` (the certificate itself when both are null: self-signed).
Result<X509Ptr> make_server_certificate(const CertificateNames& names, EVP_PKEY* subject_key, X509* issuer,
                                        EVP_PKEY* issuer_key, int valid_days) {
  X509Ptr certificate(X509_new());
  if (!certificate) return openssl_failure("X509_new");
  X509* cert = certificate.get();
  X509_NAME* subject = X509_get_subject_name(cert);
  const auto* common_name = reinterpret_cast<const unsigned char*>(names.common_name.c_str());
  bool ok = X509_set_version(cert, X509_VERSION_3) == 1 && set_random_serial(cert) &&
            X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * valid_days) != nullptr &&
            X509_set_pubkey(cert, subject_key) == 1 &&
            X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, common_name, -1, -1, 0) == 1 &&
            X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : subject) == 1;
  if (!ok) return openssl_failure("filling in the certificate");
  X509* signer = issuer ? issuer : cert;
  ok = add_extension(cert, signer, NID_basic_constraints, "critical,CA:FALSE") &&
       add_extension(cert, signer, NID_key_usage, "critical,digitalSignature") &&
       add_extension(cert, signer, NID_ext_key_usage, "serverAuth") &&
       add_extension(cert, signer, NID_subject_key_identifier, "hash") &&
       add_extension(cert, signer, NID_subject_alt_name, subject_alt_names(names));
  if (!ok) return openssl_failure("adding extensions");
  if (X509_sign(cert, issuer_key ? issuer_key : subject_key, EVP_sha256()) == 0) return openssl_failure("signing");
  return certificate;
}

// Writes `text` to PATH.tmp (0600) and renames it to PATH.
Status write_file_atomically(const fs::path& path, const std::string& text) {
  fs::path temporary = path;
  temporary += ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::Internal, "cannot write " + temporary.string() + ": " + std::strerror(errno));
  bool written = ::fchmod(fd, 0600) == 0 &&
                 ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (written) fs::rename(temporary, path, ec);
  if (!written || ec) {
    fs::remove(temporary, ec);
    return make_error(ErrorCode::Internal, "cannot write " + path.string());
  }
  return {};
}

}  // namespace

Result<SelfSignedFiles> ensure_self_signed(const std::string& dir, const CertificateNames& names) {
  SelfSignedFiles files{(fs::path(dir) / "cert.pem").string(), (fs::path(dir) / "key.pem").string(), false};
  std::error_code ec;
  if (fs::exists(files.certificate_path, ec) && fs::exists(files.key_path, ec)) return files;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::Internal, "cannot create " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  KeyPtr key = generate_p256_key();
  if (!key) return openssl_failure("generating an EC P-256 key");
  auto certificate = make_server_certificate(names, key.get(), nullptr, nullptr, kSelfSignedValidDays);
  if (!certificate) return certificate.error();
  // The key first: a certificate without its key on disk would be useless.
  if (auto written = write_file_atomically(files.key_path, private_key_pem(key.get())); !written) return written.error();
  if (auto written = write_file_atomically(files.certificate_path, certificate_pem(certificate->get())); !written)
    return written.error();
  files.created = true;
  return files;
}

}  // namespace steward::tls
