#pragma once
// A small certificate authority kept in a folder (DIR/ca.pem, DIR/ca.key):
// issues a server certificate for its own listener and client certificates
// from certificate signing requests, and tells whether a certificate is one
// of its own. Messages name files; they never quote key material.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "tls/identity.hpp"
#include "tls/self_signed.hpp"

namespace steward::tls {

// What a certificate signing request offers, once checked.
struct SigningRequest {
  std::string public_key_sha256;  // lower-case hex SHA-256 of its SubjectPublicKeyInfo (DER)
  std::string key_type;           // "EC P-256", "EC P-384", "Ed25519" or "RSA 3072"
};

// A client certificate to issue: the CSR's key, names from here only.
struct ClientCertificateSpec {
  std::string common_name;
  std::string uri_name;  // subjectAltName URI
  std::chrono::seconds valid_for{std::chrono::hours(24 * 365)};
};

struct IssuedCertificate {
  std::string certificate_pem;
  std::string fingerprint;  // "sha256:AB:CD:..." like Identity::fingerprint
  double not_after = 0;     // Unix seconds
};

// A certificate this authority issued, still valid now.
struct VerifiedCertificate {
  std::string fingerprint;             // "sha256:AB:CD:..."
  std::vector<std::string> uri_names;  // its subjectAltName URIs
};

class Authority {
 public:
  static constexpr std::chrono::hours kValidFor{24 * 3650};

  // Loads DIR/ca.pem and DIR/ca.key, or creates DIR (0700) with both when
  // DIR does not exist yet; an existing CA is never replaced. InvalidArgument
  // naming the file when DIR or ca.key is open to group or others, a file is
  // missing, unreadable or corrupt, or the key is not the certificate's.
  static Result<Authority> open_or_create(const std::string& dir, const std::string& common_name);

  Authority(Authority&&) noexcept;
  Authority& operator=(Authority&&) noexcept;
  ~Authority();

  const std::string& certificate_pem() const;
  // "sha256:" + lower-case hex SHA-256 of the CA certificate's DER.
  const std::string& pin() const;
  bool created() const;

  // DIR/NAME.pem (leaf + CA) and DIR/NAME.key, signed here, for `names`;
  // reissued when missing, not ours, unreadable or expiring within
  // `renew_within`.
  Result<Identity> ensure_server_identity(const std::string& name, const CertificateNames& names,
                                          std::chrono::seconds valid_for, std::chrono::seconds renew_within) const;

  // InvalidArgument when `csr_pem` is not one PEM PKCS#10 request whose
  // signature verifies, or its key is not EC P-256/P-384, Ed25519 or RSA of
  // 2048 bits or more.
  static Result<SigningRequest> check_request(const std::string& csr_pem);
  // A client certificate (clientAuth) for the request's key; every name and
  // extension in the request is ignored.
  Result<IssuedCertificate> issue_client(const std::string& csr_pem, const ClientCertificateSpec& spec) const;

  // PermissionDenied (with the reason) unless the first certificate in
  // `certificate_pem` was signed by this authority and is valid now.
  Result<VerifiedCertificate> verify(const std::string& certificate_pem) const;

 private:
  struct State;
  explicit Authority(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// "sha256:" + lower-case hex SHA-256 of each certificate's DER in `pem`, in order.
std::vector<std::string> certificate_pins(const std::string& pem);

// The subjectAltName URIs of the first certificate in `pem`.
std::vector<std::string> certificate_uri_names(const std::string& pem);

// InvalidArgument (with the reason) unless the first certificate in
// `certificate_pem` was signed by the first one in `ca_pem` and belongs to
// `private_key_pem` (expiry aside): what a holder checks of what it was issued.
Status check_issued_certificate(const std::string& certificate_pem, const std::string& ca_pem,
                                const std::string& private_key_pem);

// Seconds until the first certificate in `pem` expires (negative once it
// has); nullopt when there is none.
std::optional<double> seconds_until_expiry(const std::string& pem);

}  // namespace steward::tls
