#include "tls/self_signed.hpp"

#include <openssl/x509v3.h>

#include <filesystem>

#include "tls/x509_build.hpp"

namespace steward::tls {

Result<SelfSignedFiles> ensure_self_signed(const std::string& dir, const CertificateNames& names) {
  namespace fs = std::filesystem;
  SelfSignedFiles files{(fs::path(dir) / "cert.pem").string(), (fs::path(dir) / "key.pem").string(), false};
  std::error_code ec;
  if (fs::exists(files.certificate_path, ec) && fs::exists(files.key_path, ec)) return files;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::Internal, "cannot create " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  KeyPtr key = generate_p256_key();
  if (!key) return openssl_failure("generating an EC P-256 key");
  CertificateSpec spec;
  spec.common_name = names.common_name;
  spec.not_before_offset_seconds = -3600;
  spec.valid_seconds = 86400L * kSelfSignedValidDays;
  spec.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, "serverAuth"},
                     {NID_subject_key_identifier, "hash"},
                     {NID_subject_alt_name, subject_alt_names(names.dns_names, names.ip_addresses)}};
  auto certificate = make_certificate(spec, key.get(), nullptr, key.get());
  if (!certificate) return certificate.error();
  // The key first: a certificate without its key on disk would be useless.
  if (auto written = write_file_atomically(files.key_path, private_key_pem(key.get())); !written) return written.error();
  if (auto written = write_file_atomically(files.certificate_path, certificate_pem(certificate->get())); !written)
    return written.error();
  files.created = true;
  return files;
}

}  // namespace steward::tls
