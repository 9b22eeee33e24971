#pragma once
// OpenSSL contexts for FrameStream links (the agent link): mutual TLS under
// one private CA, TLS 1.2 or newer, no session tickets or cache (each link
// lives for hours; a resumption saves nothing and costs memory per link).
#include <memory>
#include <string>

#include "core/result.hpp"

struct ssl_ctx_st;
struct ssl_st;

namespace steward::tls {

struct Identity;
using LinkContext = std::shared_ptr<ssl_ctx_st>;

// The dialling side: trusts only `ca_pem`'s certificates; presents
// `certificate_pem` with its key when given (empty for an enrolment).
Result<LinkContext> make_link_client_context(const std::string& ca_pem, const std::string& certificate_pem,
                                             const std::string& private_key_pem);
// The listening side: serves `identity`; asks for a client certificate
// signed by `ca_pem` and refuses an invalid one, but lets a link without one
// through (it may only enrol).
Result<LinkContext> make_link_server_context(const Identity& identity, const std::string& ca_pem);

// True when the peer presented a certificate and it verified; then its PEM.
std::string verified_peer_certificate(ssl_st* session);

}  // namespace steward::tls
