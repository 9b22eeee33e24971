#include "tls/link_context.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "tls/identity.hpp"
#include "tls/openssl_util.hpp"

namespace steward::tls {
namespace {

LinkContext new_context(const SSL_METHOD* method) {
  LinkContext context(SSL_CTX_new(method), SSL_CTX_free);
  if (!context) return context;
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(context.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(context.get(), 0);
  SSL_CTX_set_session_cache_mode(context.get(), SSL_SESS_CACHE_OFF);
  return context;
}

Status trust_only(SSL_CTX* context, const std::string& ca_pem) {
  auto authorities = parse_certificates(ca_pem);
  if (authorities.empty()) return make_error(ErrorCode::InvalidArgument, "no CA certificate to trust");
  X509_STORE* store = X509_STORE_new();
  for (auto& authority : authorities) X509_STORE_add_cert(store, authority.get());
  SSL_CTX_set_cert_store(context, store);  // takes the store
  return {};
}

Status use_identity(SSL_CTX* context, const std::string& chain_pem, const std::string& key_pem) {
  auto chain = parse_certificates(chain_pem);
  auto key = parse_private_key(key_pem);
  if (chain.empty() || !key) return make_error(ErrorCode::InvalidArgument, "a TLS certificate or its key is unreadable");
  bool used = SSL_CTX_use_certificate(context, chain.front().get()) == 1;
  for (std::size_t i = 1; used && i < chain.size(); ++i)
    used = SSL_CTX_add1_chain_cert(context, chain[i].get()) == 1;
  used = used && SSL_CTX_use_PrivateKey(context, key.get()) == 1 && SSL_CTX_check_private_key(context) == 1;
  if (!used) {
    take_openssl_error();
    return make_error(ErrorCode::InvalidArgument, "the TLS certificate and key do not match");
  }
  return {};
}

}  // namespace

Result<LinkContext> make_link_client_context(const std::string& ca_pem, const std::string& certificate_pem,
                                             const std::string& private_key_pem) {
  auto context = new_context(TLS_client_method());
  if (!context) return make_error(ErrorCode::Internal, "OpenSSL: " + take_openssl_error());
  if (auto trusted = trust_only(context.get(), ca_pem); !trusted) return trusted.error();
  if (!certificate_pem.empty())
    if (auto used = use_identity(context.get(), certificate_pem, private_key_pem); !used) return used.error();
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  return context;
}

Result<LinkContext> make_link_server_context(const Identity& identity, const std::string& ca_pem) {
  auto context = new_context(TLS_server_method());
  if (!context) return make_error(ErrorCode::Internal, "OpenSSL: " + take_openssl_error());
  if (auto used = use_identity(context.get(), identity.certificate_chain_pem, identity.private_key_pem); !used)
    return used.error();
  if (auto trusted = trust_only(context.get(), ca_pem); !trusted) return trusted.error();
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  return context;
}

std::string verified_peer_certificate(SSL* session) {
  X509* certificate = SSL_get0_peer_certificate(session);
  if (!certificate || SSL_get_verify_result(session) != X509_V_OK) return {};
  return certificate_pem(certificate);
}

}  // namespace steward::tls
