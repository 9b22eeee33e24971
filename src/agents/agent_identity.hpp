#pragma once
// The agent's side of enrolment (issue 13), used by `steward agent`: its
// state folder, its key (made here, never sent), the server's CA pinned by
// hash on first contact, and the certificate the server issues.
//
// State folder (0700): agent.key (0600, EC P-256), agent.pem (its client
// certificate), ca.pem (the pinned agent CA), agent.id.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>

#include "agents/trust.hpp"
#include "core/result.hpp"

namespace steward::agents {

inline constexpr const char* kAgentKeyFile = "agent.key";
inline constexpr const char* kAgentCertificateFile = "agent.pem";
inline constexpr const char* kAgentCaFile = "ca.pem";
inline constexpr const char* kAgentIdFile = "agent.id";

// /var/lib/steward-agent for root; otherwise $XDG_STATE_HOME/steward-agent,
// else ~/.local/state/steward-agent.
std::string default_agent_state_dir();
std::string default_agent_state_dir(bool root, const char* xdg_state_home, const char* home);

struct AgentCredentials {
  std::string agent_id;
  std::string ca_pem;
  std::string certificate_pem;
  std::string private_key_pem;  // secret: never logged or sent
};

// The saved credentials in `state_dir`, checked (the certificate is the
// CA's, for this key, not expired); nullopt when none are saved yet.
// InvalidArgument naming the file for a key open to others or a broken set.
Result<std::optional<AgentCredentials>> load_agent_credentials(const std::string& state_dir);

// One TLS handshake with `server` (verifying nothing), then: the CA
// certificate in the chain whose DER SHA-256 is `ca_pin` ("sha256:HEX"),
// saved as STATE/ca.pem. PermissionDenied, saving nothing, when the chain
// holds no such certificate.
Result<std::string> pin_server_ca(const std::string& server, const std::string& ca_pin, const std::string& state_dir,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The server's Enrol (the Enrol link in `steward agent`; a Trust in tests),
// made over TLS that trusts `ca_pem` only.
using EnrolCall = std::function<Result<EnrolReply>(const EnrolRequest& request, const std::string& ca_pem)>;

struct EnrolOptions {
  std::string server;      // HOST:PORT of the agent listener
  std::string join_token;  // empty: wait for approval
  std::string ca_pin;      // needed until ca.pem is saved
  std::string state_dir;
  std::string hostname;  // gethostname() when empty
  std::map<std::string, std::string> labels;
  std::string version;
  std::chrono::seconds min_retry{1};  // floor for the server's retry_after
  std::chrono::seconds max_retry{300};
  std::stop_token stop;  // ends a wait for approval with Cancelled
};

// The saved credentials when there are some (and not within 30 days of
// expiring); otherwise enrols: pins the CA (once), makes the key (once),
// sends a CSR with the join token, and while pending asks again every
// retry_after until approved, then saves the certificate.
Result<AgentCredentials> enrol(const EnrolOptions& options, const EnrolCall& call);

}  // namespace steward::agents
