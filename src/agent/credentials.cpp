#include "agent/credentials.hpp"

#include <spdlog/spdlog.h>

#include "agents/agent_identity.hpp"

namespace steward::agent {
namespace {

constexpr std::chrono::seconds kEnrolTimeout{30};

// The real Enrol exchange behind agents::enrol (which tests drive with a Trust).
Result<agents::EnrolReply> enrol_over_link(const std::string& server, const agents::EnrolRequest& request,
                                           const std::string& ca_pem) {
  v1::EnrolRequest wire;
  wire.set_join_token(request.join_token);
  wire.set_csr_pem(request.csr_pem);
  wire.set_hostname(request.hostname);
  wire.mutable_labels()->insert(request.labels.begin(), request.labels.end());
  wire.set_version(request.version);
  auto reply = call_enrol(server, ca_pem, wire, kEnrolTimeout);
  if (!reply) return reply.error();
  agents::EnrolReply out;
  out.approved = reply->approved();
  out.agent_id = reply->agent_id();
  out.certificate_pem = reply->certificate_pem();
  out.ca_pem = reply->ca_pem();
  out.retry_after = std::chrono::seconds(reply->retry_after_seconds());
  if (!out.approved) spdlog::info("waiting for an administrator to approve agent {} (steward agents approve)", out.agent_id);
  return out;
}

}  // namespace

Result<ClientCredentials> obtain_credentials(const EnrolSettings& settings) {
  agents::EnrolOptions options;
  options.server = settings.server;
  options.join_token = settings.join_token;
  options.ca_pin = settings.ca_pin;
  options.state_dir = settings.state_dir;
  options.hostname = settings.hostname;
  options.labels = settings.labels;
  options.version = STEWARD_VERSION;
  auto credentials = agents::enrol(options, [&settings](const agents::EnrolRequest& request, const std::string& ca_pem) {
    return enrol_over_link(settings.server, request, ca_pem);
  });
  if (!credentials) return credentials.error();
  spdlog::info("agent {} (state in {})", credentials->agent_id, settings.state_dir);
  return ClientCredentials{std::move(credentials->ca_pem), std::move(credentials->certificate_pem),
                           std::move(credentials->private_key_pem)};
}

}  // namespace steward::agent
