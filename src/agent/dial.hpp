#pragma once
// Dialling the server's agent listener (proto/agent.proto): a TLS link that
// trusts only the pinned CA and expects the fixed server name, and the
// one-shot Enrol exchange.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "agent.pb.h"
#include "core/result.hpp"
#include "tls/link_context.hpp"

namespace steward::tls { class FrameStream; }

namespace steward::agent {

namespace v1 = ::steward::agent::v1;

struct ClientCredentials {
  std::string ca_pem;
  std::string certificate_pem;  // empty for Enrol
  std::string private_key_pem;  // secret
};

Result<tls::LinkContext> make_context(const ClientCredentials& credentials);

// Connected and through the TLS handshake within `timeout`; Unreachable
// otherwise, with the reason (a refused certificate says so).
boost::asio::awaitable<Result<std::shared_ptr<tls::FrameStream>>> dial(std::string server, tls::LinkContext context,
                                                                      std::chrono::milliseconds timeout);

// The server's last word as an error.
Error error_of(const v1::Goodbye& goodbye);

// The Enrol exchange, blocking (the agent enrols before its loop starts).
// Unreachable when the server cannot be reached; the server's code and
// message (PermissionDenied, InvalidArgument, ...) when it refuses.
Result<v1::EnrolReply> call_enrol(const std::string& server, const std::string& ca_pem, const v1::EnrolRequest& request,
                                  std::chrono::seconds timeout);

}  // namespace steward::agent
