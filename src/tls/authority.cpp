#include "tls/authority.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "core/ids.hpp"
#include "tls/openssl_util.hpp"
#include "tls/x509_build.hpp"

namespace steward::tls {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxRequestSize = 64 * 1024;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;
constexpr const char* kCertificateFile = "ca.pem";
constexpr const char* kKeyFile = "ca.key";

struct ReqFree {
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
};
using RequestPtr = std::unique_ptr<X509_REQ, ReqFree>;

std::string path_in(const std::string& dir, const std::string& file) { return (fs::path(dir) / file).string(); }

// InvalidArgument when `path` may be read or written by group or others.
Status check_private(const std::string& path, const std::string& what, const std::string& fix) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return make_error(ErrorCode::InvalidArgument, what + " " + path + ": no such file");
  if ((info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", info.st_mode & 07777);
    return make_error(ErrorCode::InvalidArgument,
                      what + " " + path + " is open to group or others (mode " + mode + "): " + fix);
  }
  return {};
}

double unix_time_of(const ASN1_TIME* time) {
  std::tm parts{};
  if (ASN1_TIME_to_tm(time, &parts) != 1) return 0;
  return static_cast<double>(::timegm(&parts));
}

bool expires_within(X509* certificate, std::chrono::seconds window) {
  std::time_t limit = std::time(nullptr) + window.count();
  return X509_cmp_time(X509_get0_notAfter(certificate), &limit) <= 0;
}

std::string sha256_hex(const unsigned char* data, std::size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr) != 1) return {};
  return lower_hex(digest, length);
}

std::string public_key_sha256(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int size = i2d_PUBKEY(key, &der);
  if (size <= 0) return {};
  std::string hex = sha256_hex(der, static_cast<std::size_t>(size));
  OPENSSL_free(der);
  return hex;
}

// The accepted key types, named; InvalidArgument for any other.
Result<std::string> accepted_key_type(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t length = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) == 1) {
        int nid = OBJ_sn2nid(group);
        if (nid == NID_undef) nid = EC_curve_nist2nid(group);
        if (nid == NID_X9_62_prime256v1) return std::string("EC P-256");
        if (nid == NID_secp384r1) return std::string("EC P-384");
      }
      take_openssl_error();
      return make_error(ErrorCode::InvalidArgument,
                        "the request's EC key is not on curve P-256 or P-384, the only curves accepted");
    }
    case EVP_PKEY_ED25519:
      return std::string("Ed25519");
    case EVP_PKEY_RSA: {
      const int bits = EVP_PKEY_get_bits(key);
      if (bits < kMinRsaBits || bits > kMaxRsaBits)
        return make_error(ErrorCode::InvalidArgument, "the request's RSA key has " + std::to_string(bits) +
                                                          " bits; RSA keys must have 2048 to 16384");
      return "RSA " + std::to_string(bits);
    }
    default:
      return make_error(ErrorCode::InvalidArgument,
                        "the request's key type is not accepted (EC P-256 or P-384, Ed25519, or RSA of 2048 bits or more)");
  }
}

Result<RequestPtr> parse_request(const std::string& csr_pem) {
  if (csr_pem.size() > kMaxRequestSize)
    return make_error(ErrorCode::InvalidArgument, "the certificate signing request is larger than 64 KiB");
  BioPtr bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  RequestPtr request(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  take_openssl_error();
  if (!request)
    return make_error(ErrorCode::InvalidArgument, "the certificate signing request is not a PEM PKCS#10 request");
  return request;
}

// Names that go into an OpenSSL extension configuration string, where a
// comma or a colon-prefix would change its meaning.
bool is_plain_name(const std::string& text) {
  return !text.empty() && text.size() <= 200 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '_' || c == '-';
  });
}

std::vector<std::string> uri_names_of(X509* certificate) {
  std::vector<std::string> uris;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<std::size_t>(ASN1_STRING_length(uri)));
  }
  GENERAL_NAMES_free(names);
  return uris;
}

}  // namespace

struct Authority::State {
  std::string dir;
  X509Ptr certificate;
  KeyPtr key;
  std::string certificate_pem;
  std::string pin;
  bool created = false;
};

Authority::Authority(std::unique_ptr<State> state) : state_(std::move(state)) {}
Authority::Authority(Authority&&) noexcept = default;
Authority& Authority::operator=(Authority&&) noexcept = default;
Authority::~Authority() = default;

const std::string& Authority::certificate_pem() const { return state_->certificate_pem; }
const std::string& Authority::pin() const { return state_->pin; }
bool Authority::created() const { return state_->created; }

namespace {

// Makes the CA in a fresh sibling folder and renames it into place, so a
// crash never leaves half a CA and a racing second process keeps the first.
Result<bool> create_authority(const std::string& dir, const std::string& common_name) {
  std::error_code ec;
  const fs::path parent = fs::path(dir).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) return make_error(ErrorCode::Internal, "cannot create " + parent.string() + ": " + ec.message());
  const std::string staging = dir + ".new-" + random_hex(6);
  if (::mkdir(staging.c_str(), 0700) != 0) return make_error(ErrorCode::Internal, "cannot create " + staging);
  auto cleanup = [&staging] {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
  };
  KeyPtr key = generate_p256_key();
  if (!key) {
    cleanup();
    return openssl_failure("generating an EC P-256 key");
  }
  CertificateSpec spec;
  spec.common_name = common_name;
  spec.valid_seconds = std::chrono::duration_cast<std::chrono::seconds>(Authority::kValidFor).count();
  spec.extensions = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                     {NID_key_usage, "critical,keyCertSign,cRLSign"},
                     {NID_subject_key_identifier, "hash"}};
  auto certificate = make_certificate(spec, key.get(), nullptr, key.get());
  Status written = certificate ? write_file_atomically(path_in(staging, kKeyFile), private_key_pem(key.get()))
                               : Status(certificate.error());
  if (written) written = write_file_atomically(path_in(staging, kCertificateFile), certificate_pem(certificate->get()));
  if (!written) {
    cleanup();
    return written.error();
  }
  if (::rename(staging.c_str(), dir.c_str()) != 0) {
    const int error = errno;
    cleanup();
    if (error == EEXIST || error == ENOTEMPTY) return false;  // another process made it first: use theirs
    return make_error(ErrorCode::Internal, "cannot rename " + staging + " to " + dir);
  }
  return true;
}

}  // namespace

Result<Authority> Authority::open_or_create(const std::string& dir, const std::string& common_name) {
  auto state = std::make_unique<State>();
  state->dir = dir;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    auto created = create_authority(dir, common_name);
    if (!created) return created.error();
    state->created = *created;
  }
  if (!fs::is_directory(dir, ec)) return make_error(ErrorCode::InvalidArgument, "CA folder " + dir + " is not a folder");
  if (auto mode = check_private(dir, "CA folder", "chmod 700 " + dir); !mode) return mode.error();
  const std::string certificate_path = path_in(dir, kCertificateFile), key_path = path_in(dir, kKeyFile);
  auto certificate_text = read_pem_file(certificate_path, "CA certificate");
  if (!certificate_text) return certificate_text.error();
  auto certificates = parse_certificates(*certificate_text);
  if (certificates.empty())
    return make_error(ErrorCode::InvalidArgument, "CA certificate " + certificate_path + ": no PEM certificate in it");
  if (X509_check_ca(certificates.front().get()) < 1)
    return make_error(ErrorCode::InvalidArgument, "CA certificate " + certificate_path + " is not a CA certificate");
  if (auto mode = check_private(key_path, "CA key", "chmod 600 " + key_path); !mode) return mode.error();
  auto key_text = read_pem_file(key_path, "CA key");
  if (!key_text) return key_text.error();
  KeyPtr key = parse_private_key(*key_text);
  if (!key) {
    const std::string reason = take_openssl_error();
    return make_error(ErrorCode::InvalidArgument, "CA key " + key_path + ": not an unencrypted PEM private key" +
                                                      (reason.empty() ? "" : " (" + reason + ")"));
  }
  if (X509_check_private_key(certificates.front().get(), key.get()) != 1) {
    take_openssl_error();
    return make_error(ErrorCode::InvalidArgument,
                      "CA key " + key_path + " does not belong to the certificate in " + certificate_path);
  }
  state->certificate = std::move(certificates.front());
  state->key = std::move(key);
  state->certificate_pem = tls::certificate_pem(state->certificate.get());
  state->pin = pin_of(state->certificate.get());
  return Authority(std::move(state));
}

Result<Identity> Authority::ensure_server_identity(const std::string& name, const CertificateNames& names,
                                                   std::chrono::seconds valid_for,
                                                   std::chrono::seconds renew_within) const {
  const std::string chain_path = path_in(state_->dir, name + ".pem"), key_path = path_in(state_->dir, name + ".key");
  if (check_private(key_path, "key", "").ok()) {
    auto existing = load_identity(chain_path, key_path);
    if (existing) {
      auto chain = parse_certificates(existing->certificate_chain_pem);
      if (verify(existing->certificate_chain_pem).ok() && !expires_within(chain.front().get(), renew_within))
        return existing;
    }
  }
  KeyPtr key = generate_p256_key();
  if (!key) return openssl_failure("generating an EC P-256 key");
  CertificateSpec spec;
  spec.common_name = names.common_name;
  spec.valid_seconds = valid_for.count();
  spec.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, "serverAuth"},
                     {NID_subject_key_identifier, "hash"},
                     {NID_authority_key_identifier, "keyid:always"},
                     {NID_subject_alt_name, subject_alt_names(names.dns_names, names.ip_addresses)}};
  auto certificate = make_certificate(spec, key.get(), state_->certificate.get(), state_->key.get());
  if (!certificate) return certificate.error();
  Identity identity;
  identity.certificate_chain_pem = tls::certificate_pem(certificate->get()) + state_->certificate_pem;
  identity.private_key_pem = private_key_pem(key.get());
  identity.fingerprint = fingerprint_of(certificate->get());
  if (auto written = write_file_atomically(key_path, identity.private_key_pem); !written) return written.error();
  if (auto written = write_file_atomically(chain_path, identity.certificate_chain_pem); !written)
    return written.error();
  return identity;
}

Result<SigningRequest> Authority::check_request(const std::string& csr_pem) {
  auto request = parse_request(csr_pem);
  if (!request) return request.error();
  EVP_PKEY* key = X509_REQ_get0_pubkey(request->get());
  if (!key) {
    take_openssl_error();
    return make_error(ErrorCode::InvalidArgument, "the certificate signing request holds no readable public key");
  }
  auto type = accepted_key_type(key);
  if (!type) return type.error();
  if (X509_REQ_verify(request->get(), key) != 1) {
    take_openssl_error();
    return make_error(ErrorCode::InvalidArgument,
                      "the certificate signing request's signature does not verify with its own key");
  }
  SigningRequest checked;
  checked.public_key_sha256 = public_key_sha256(key);
  checked.key_type = std::move(*type);
  if (checked.public_key_sha256.empty()) return openssl_failure("hashing the request's public key");
  return checked;
}

Result<IssuedCertificate> Authority::issue_client(const std::string& csr_pem, const ClientCertificateSpec& spec) const {
  if (auto checked = check_request(csr_pem); !checked) return checked.error();
  if (!is_plain_name(spec.common_name) || !is_plain_name(spec.uri_name))
    return make_error(ErrorCode::InvalidArgument, "a client certificate's names are A-Z a-z 0-9 : . _ - only");
  auto request = parse_request(csr_pem);
  if (!request) return request.error();
  CertificateSpec certificate_spec;
  certificate_spec.common_name = spec.common_name;
  certificate_spec.valid_seconds = spec.valid_for.count();
  certificate_spec.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                                 {NID_key_usage, "critical,digitalSignature"},
                                 {NID_ext_key_usage, "clientAuth"},
                                 {NID_subject_key_identifier, "hash"},
                                 {NID_authority_key_identifier, "keyid:always"},
                                 {NID_subject_alt_name, "URI:" + spec.uri_name}};
  auto certificate = make_certificate(certificate_spec, X509_REQ_get0_pubkey(request->get()), state_->certificate.get(),
                                      state_->key.get());
  if (!certificate) return certificate.error();
  IssuedCertificate issued;
  issued.certificate_pem = tls::certificate_pem(certificate->get());
  issued.fingerprint = fingerprint_of(certificate->get());
  issued.not_after = unix_time_of(X509_get0_notAfter(certificate->get()));
  return issued;
}

Result<VerifiedCertificate> Authority::verify(const std::string& certificate_pem) const {
  auto certificates = parse_certificates(certificate_pem);
  if (certificates.empty()) return make_error(ErrorCode::PermissionDenied, "no PEM certificate was presented");
  X509* certificate = certificates.front().get();
  const bool issued_here = X509_check_issued(state_->certificate.get(), certificate) == X509_V_OK &&
                           X509_verify(certificate, X509_get0_pubkey(state_->certificate.get())) == 1;
  take_openssl_error();
  if (!issued_here)
    return make_error(ErrorCode::PermissionDenied, "the certificate was not issued by this server's agent CA");
  if (X509_cmp_current_time(X509_get0_notBefore(certificate)) > 0)
    return make_error(ErrorCode::PermissionDenied, "the certificate is not valid yet (check the clocks)");
  if (X509_cmp_current_time(X509_get0_notAfter(certificate)) < 0)
    return make_error(ErrorCode::PermissionDenied, "the certificate has expired");
  return VerifiedCertificate{fingerprint_of(certificate), uri_names_of(certificate)};
}

std::vector<std::string> certificate_pins(const std::string& pem) {
  std::vector<std::string> pins;
  for (const auto& certificate : parse_certificates(pem)) pins.push_back(pin_of(certificate.get()));
  return pins;
}

std::vector<std::string> certificate_uri_names(const std::string& pem) {
  auto certificates = parse_certificates(pem);
  if (certificates.empty()) return {};
  return uri_names_of(certificates.front().get());
}

Status check_issued_certificate(const std::string& certificate_pem, const std::string& ca_pem,
                                const std::string& private_key_pem) {
  auto certificates = parse_certificates(certificate_pem);
  auto authorities = parse_certificates(ca_pem);
  KeyPtr key = parse_private_key(private_key_pem);
  take_openssl_error();
  if (certificates.empty()) return make_error(ErrorCode::InvalidArgument, "no PEM certificate");
  if (authorities.empty()) return make_error(ErrorCode::InvalidArgument, "no PEM CA certificate");
  if (!key) return make_error(ErrorCode::InvalidArgument, "no readable private key");
  X509* certificate = certificates.front().get();
  X509* authority = authorities.front().get();
  const bool issued = X509_check_issued(authority, certificate) == X509_V_OK &&
                      X509_verify(certificate, X509_get0_pubkey(authority)) == 1;
  const bool ours = X509_check_private_key(certificate, key.get()) == 1;
  take_openssl_error();
  if (!issued) return make_error(ErrorCode::InvalidArgument, "the certificate was not issued by the pinned CA");
  if (!ours) return make_error(ErrorCode::InvalidArgument, "the certificate is not for this key");
  return {};
}

std::optional<double> seconds_until_expiry(const std::string& pem) {
  auto certificates = parse_certificates(pem);
  if (certificates.empty()) return std::nullopt;
  return unix_time_of(X509_get0_notAfter(certificates.front().get())) - static_cast<double>(std::time(nullptr));
}

}  // namespace steward::tls
