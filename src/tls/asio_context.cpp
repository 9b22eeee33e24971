#include "tls/asio_context.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>

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

Status expect_server_name(ssl_st* session, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(session);
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(host, not_an_address);
  bool ok = false;
  if (!not_an_address) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  } else {
    ok = X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1 &&
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
