#pragma once
// Who may be an agent (issue 13): the server's agent CA, enrolment with join
// tokens or approval, and the directory of known agents. The agent listener
// (agents/hub) asks this at every Enrol and Connect; the CLI and REST read
// and change it. Persisted through the store's records, so a second server
// on the same store (issue 15) sees the same agents.
//
// Identity: an agent's client certificate is signed by the agent CA and names
// the agent in a subjectAltName URI "steward-agent:ID". Only the certificate
// the directory issued last for an id is admitted (its fingerprint is kept),
// so a revoked or re-enrolled agent's old certificate stops working at once.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace steward::store { class Store; }
namespace steward::tls { struct Identity; }

namespace steward::agents {

// The name every agent-listener certificate holds and every agent checks
// (the CA is pinned, so one fixed name is enough and survives NAT and
// changing addresses).
inline constexpr const char* kServerName = "steward-server";

enum class AgentState { Pending, Approved, Revoked };
const char* to_string(AgentState state);

struct AgentRecord {
  std::string id;  // "agent-" + 16 lower-case hex, assigned at first Enrol
  std::string hostname;
  std::map<std::string, std::string> labels;
  AgentState state = AgentState::Pending;
  std::string certificate_fingerprint;  // of the certificate issued last; empty while pending
  double enrolled_at = 0;               // Unix seconds
  std::string enrolled_by;              // "join token NAME" or "approved by CALLER"
  // Live, kept in memory by the hub (not persisted).
  bool connected = false;
  double connected_since = 0;
  double last_seen = 0;
  std::string address;  // the peer's address of its live (or last) stream
  std::string version;
};

struct EnrolRequest {
  std::string join_token;  // empty: wait for approval
  std::string csr_pem;     // PKCS#10 made on the agent; its key never leaves it
  std::string hostname;
  std::map<std::string, std::string> labels;
  std::string version;
  std::string peer;  // the address the request came from (set by the listener)
};

struct EnrolReply {
  bool approved = false;        // false: pending, ask again later with the same CSR
  std::string agent_id;
  std::string certificate_pem;  // approved: the client certificate
  std::string ca_pem;
  std::chrono::seconds retry_after{10};
};

struct JoinToken {
  std::string token;  // shown once; only its hash is stored
  std::string name;
  double expires_at = 0;
  bool one_shot = false;
};

class Trust {
 public:
  virtual ~Trust() = default;

  // The agent listener's TLS identity: signed by the agent CA, names
  // kServerName, localhost and the loopback addresses; chain includes the CA.
  // A copy: renew_server_identity may replace it. Any thread.
  virtual tls::Identity server_identity() const = 0;
  // Reissues the listener's certificate when it ends within
  // TrustOptions::renew_server_within (30 days); true when it did. Loop only.
  virtual Result<bool> renew_server_identity() = 0;
  virtual const std::string& ca_pem() const = 0;
  // "sha256:" + lower-case hex of the CA certificate's DER (what --ca-pin takes).
  virtual const std::string& ca_pin() const = 0;

  // InvalidArgument for a malformed CSR, PermissionDenied for an unknown,
  // expired or used-up join token or a revoked agent. Same CSR again while
  // pending: the same agent id.
  virtual boost::asio::awaitable<Result<EnrolReply>> enrol(EnrolRequest request) = 0;

  // At Connect: the verified client certificate (PEM) → the agent it names,
  // if approved and the certificate is the current one; PermissionDenied with
  // the reason otherwise. Any thread.
  virtual Result<AgentRecord> admit(const std::string& client_certificate_pem) const = 0;

  virtual boost::asio::awaitable<Result<JoinToken>> create_join_token(std::string name, std::chrono::seconds ttl,
                                                                       bool one_shot) = 0;
  virtual boost::asio::awaitable<Status> approve(std::string id, std::string by) = 0;
  // Also calls every on_revoked callback, so the live stream is closed at once.
  virtual boost::asio::awaitable<Status> revoke(std::string id, std::string by) = 0;
  // Forgets the agents waiting for approval that have not asked again for
  // TrustOptions::forget_pending_after (7 days); how many. Also at open.
  virtual boost::asio::awaitable<std::size_t> forget_stale_pending() = 0;
  virtual std::vector<AgentRecord> list() const = 0;
  virtual std::optional<AgentRecord> find(const std::string& id) const = 0;

  // Loop only. Live state, from the hub.
  virtual void note_connected(const std::string& id, const std::string& address, const std::string& version,
                              const std::string& hostname, const std::map<std::string, std::string>& labels) = 0;
  virtual void note_seen(const std::string& id) = 0;
  virtual void note_disconnected(const std::string& id) = 0;
  virtual void on_revoked(std::function<void(const std::string& id)> callback) = 0;
};

// Creates <data_dir>/agent-ca (0700) with ca.pem and ca.key (0600) on first
// use and the listener's certificate, then loads the directory from the store.
boost::asio::awaitable<Result<std::unique_ptr<Trust>>> open_trust(const std::string& data_dir, store::Store& store);

}  // namespace steward::agents
