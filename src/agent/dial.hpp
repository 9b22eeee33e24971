#pragma once
// Dialling the server's agent listener: the channel (mutual TLS, the pinned
// CA as the only root, the fixed server name) and the one-shot Enrol call.
#include <chrono>
#include <memory>
#include <string>

#include "agent.pb.h"
#include "core/result.hpp"

namespace grpc { class Channel; }

namespace steward::agent {

struct ClientCredentials {
  std::string ca_pem;
  std::string certificate_pem;  // empty for Enrol
  std::string private_key_pem;  // secret
};

// Keepalive pings every few seconds, so a dead link is noticed within ~15 s.
std::shared_ptr<::grpc::Channel> make_channel(const std::string& server, const ClientCredentials& credentials);

// The Enrol call, blocking (the agent enrols before its loop starts).
// Unreachable when the server cannot be reached; PermissionDenied or
// InvalidArgument with the server's message when it refuses.
Result<v1::EnrolReply> call_enrol(const std::string& server, const std::string& ca_pem, const v1::EnrolRequest& request,
                                  std::chrono::seconds timeout);

}  // namespace steward::agent
