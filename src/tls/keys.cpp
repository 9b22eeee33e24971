#include "tls/keys.hpp"

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <charconv>

#include "tls/x509_build.hpp"

namespace steward::tls {
namespace {

struct ReqFree {
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
};

KeyPtr generate(const std::string& kind) {
  if (kind == "P-256" || kind == "P-384" || kind == "secp256k1") return KeyPtr(EVP_EC_gen(kind.c_str()));
  if (kind == "Ed25519") return KeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  unsigned bits = 0;
  if (kind.starts_with("RSA-")) {
    auto [end, error] = std::from_chars(kind.data() + 4, kind.data() + kind.size(), bits);
    if (error == std::errc() && end == kind.data() + kind.size() && bits >= 512 && bits <= 16384)
      return KeyPtr(EVP_RSA_gen(bits));
  }
  return nullptr;
}

}  // namespace

Result<std::string> generate_private_key(const std::string& kind) {
  KeyPtr key = generate(kind);
  if (!key) {
    take_openssl_error();
    return make_error(ErrorCode::InvalidArgument, "cannot generate a key of kind '" + kind + "'");
  }
  return private_key_pem(key.get());
}

Result<std::string> make_signing_request(const std::string& private_key_pem, const std::string& common_name) {
  KeyPtr key = parse_private_key(private_key_pem);
  if (!key) {
    take_openssl_error();
    return make_error(ErrorCode::InvalidArgument, "not an unencrypted PEM private key");
  }
  std::unique_ptr<X509_REQ, ReqFree> request(X509_REQ_new());
  if (!request) return openssl_failure("X509_REQ_new");
  const auto* name = reinterpret_cast<const unsigned char*>(common_name.c_str());
  // Ed25519 signs the message itself: no separate digest.
  const EVP_MD* digest = EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  bool ok = X509_REQ_set_version(request.get(), 0) == 1 &&
            X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(request.get()), "CN", MBSTRING_UTF8, name, -1, -1,
                                       0) == 1 &&
            X509_REQ_set_pubkey(request.get(), key.get()) == 1 && X509_REQ_sign(request.get(), key.get(), digest) > 0;
  if (!ok) return openssl_failure("signing the certificate request");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), request.get()) != 1) return openssl_failure("writing the request");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

Status write_private_file(const std::string& path, const std::string& text) {
  return write_file_atomically(path, text);
}

}  // namespace steward::tls
