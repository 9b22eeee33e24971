#pragma once
// Owning pointers for OpenSSL objects and its error queue as text; private
// to src/tls.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace steward::tls {

struct OpenSslFree {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using BioPtr = std::unique_ptr<BIO, OpenSslFree>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree>;
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree>;

// The oldest queued OpenSSL error's reason (empty if none); clears the queue.
std::string take_openssl_error();

// Every certificate in PEM text, in order (empty if none).
std::vector<X509Ptr> parse_certificates(const std::string& pem);
// An unencrypted PEM private key; never prompts for a passphrase.
KeyPtr parse_private_key(const std::string& pem);

std::string certificate_pem(X509* certificate);
// "sha256:AB:CD:..." of the certificate's DER (see identity.hpp).
std::string fingerprint_of(X509* certificate);
// "sha256:abcd..." (lower-case hex, no colons) of the certificate's DER: a CA pin.
std::string pin_of(X509* certificate);
// Bytes as lower-case hex, two digits each.
std::string lower_hex(const unsigned char* bytes, std::size_t size);
std::string private_key_pem(EVP_PKEY* key);  // PKCS#8, unencrypted

// Reads a small regular file (PEM material); InvalidArgument naming `what`
// and the path otherwise. Never opens FIFOs or devices.
Result<std::string> read_pem_file(const std::string& path, const std::string& what);

}  // namespace steward::tls
