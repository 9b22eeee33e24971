#include "tls/asio_context.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/verify_context.hpp>

#include <algorithm>
#include <cctype>

#include "tls/identity.hpp"
#include "tls/openssl_util.hpp"

namespace steward::tls {
namespace {

namespace ssl = boost::asio::ssl;

void require_modern_protocols(ssl::context& context) {
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
}

// "sha256:ab:cd..." or bare hex, any case -> "sha256:AB:CD:..."; empty if malformed.
std::string normalized_fingerprint(std::string text) {
  if (text.rfind("sha256:", 0) == 0 || text.rfind("SHA256:", 0) == 0) text = text.substr(7);
  std::erase(text, ':');
  if (text.size() != 64 || !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c); }))
    return {};
  std::string pairs = "sha256:";
  for (std::size_t i = 0; i < text.size(); i += 2) {
    if (i > 0) pairs += ':';
    pairs += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
    pairs += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i + 1])));
  }
  return pairs;
}

// Only the server's own certificate decides: any other complaint about the
// chain (self-signed, unknown issuer) is overruled, a different leaf is
// rejected with X509_V_ERR_CERT_REJECTED.
void pin_certificate(ssl::context& context, const std::string& fingerprint) {
  context.set_verify_mode(ssl::verify_peer);
  context.set_verify_callback([fingerprint](bool, ssl::verify_context& verify) {
    X509_STORE_CTX* store = verify.native_handle();
    if (X509_STORE_CTX_get_error_depth(store) > 0) return true;
    if (fingerprint_of(X509_STORE_CTX_get_current_cert(store)) == fingerprint) return true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return false;
  });
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_server_context(const Identity& identity) {
  try {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    require_modern_protocols(*context);
    context->use_certificate_chain(boost::asio::buffer(identity.certificate_chain_pem));
    context->use_private_key(boost::asio::buffer(identity.private_key_pem), ssl::context::pem);
    return context;
  } catch (const boost::system::system_error& e) {
    take_openssl_error();
    return make_error(ErrorCode::InvalidArgument, std::string("TLS certificate or key refused: ") + e.code().message());
  }
}

Result<std::shared_ptr<ssl::context>> make_client_context(const ClientTrust& trust) {
  try {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    require_modern_protocols(*context);
    if (trust.insecure) {
      context->set_verify_mode(ssl::verify_none);
      return context;
    }
    if (!trust.fingerprint.empty()) {
      const std::string pin = normalized_fingerprint(trust.fingerprint);
      if (pin.empty())
        return make_error(ErrorCode::InvalidArgument,
                          "fingerprint must be sha256: and 32 hex pairs, got '" + trust.fingerprint + "'");
      pin_certificate(*context, pin);
      return context;
    }
    if (trust.ca_file.empty()) {
      context->set_default_verify_paths();
    } else {
      auto bundle = load_certificates(trust.ca_file);
      if (!bundle) return bundle.error();
      context->add_certificate_authority(boost::asio::buffer(*bundle));
    }
    context->set_verify_mode(ssl::verify_peer);
    return context;
  } catch (const boost::system::system_error& e) {
    take_openssl_error();
    return make_error(ErrorCode::InvalidArgument, std::string("TLS set-up failed: ") + e.code().message());
  }
}

Status expect_server_name(ssl_st* session, const std::string& host, bool check_name) {
  X509_VERIFY_PARAM* param = SSL_get0_param(session);
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(host, not_an_address);
  bool ok = true;
  if (!not_an_address) {
    if (check_name) ok = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  } else {
    ok = (!check_name || X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1) &&
         SSL_set_tlsext_host_name(session, host.c_str()) == 1;
  }
  if (!ok) {
    take_openssl_error();
    return make_error(ErrorCode::InvalidArgument, "cannot check a TLS certificate for '" + host + "'");
  }
  return {};
}

std::string verification_failure(ssl_st* session) {
  long result = SSL_get_verify_result(session);
  if (result == X509_V_OK) return {};
  return X509_verify_cert_error_string(result);
}

}  // namespace steward::tls
