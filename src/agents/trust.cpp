#include "agents/trust.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <mutex>

#include "agents/join_tokens.hpp"
#include "agents/stored.hpp"
#include "agents/trust_options.hpp"
#include "agents/validation.hpp"
#include "core/clock.hpp"
#include "core/ids.hpp"
#include "store/store.hpp"
#include "tls/authority.hpp"

namespace steward::agents {
namespace {

namespace fs = std::filesystem;

const std::string kAgentRecords = kAgentKind;
const std::string kJoinTokenRecords = kJoinTokenKind;
constexpr const char* kUriPrefix = "steward-agent:";
constexpr std::chrono::seconds kServerCertificateValidity{std::chrono::hours(24 * 397)};
// An agent's certificate this close to its end is replaced when it asks again.
constexpr std::chrono::seconds kRenewWithin{std::chrono::hours(24 * 30)};
// Expired join tokens stay this long (so their use gets "expired", not "unknown").
constexpr double kKeepExpiredTokens = 7 * 86400;

tls::CertificateNames listener_names() {
  return tls::CertificateNames{kServerName, {kServerName, "localhost"}, {"127.0.0.1", "::1"}};
}

class DirectoryTrust final : public Trust {
 public:
  DirectoryTrust(tls::Authority authority, store::Store& store, TrustOptions options)
      : authority_(std::move(authority)), store_(store), options_(std::move(options)) {
    if (!options_.now) options_.now = unix_now;
  }

  boost::asio::awaitable<Status> load();
  // The listener's certificate, reissued if it ends soon, and its files.
  Status open_server_identity();

  tls::Identity server_identity() const override {
    std::lock_guard lock(mutex_);
    return server_;
  }
  Result<bool> renew_server_identity() override;
  const std::string& ca_pem() const override { return authority_.certificate_pem(); }
  const std::string& ca_pin() const override { return authority_.pin(); }

  boost::asio::awaitable<Result<EnrolReply>> enrol(EnrolRequest request) override;
  Result<AgentRecord> admit(const std::string& client_certificate_pem) const override;
  boost::asio::awaitable<Result<JoinToken>> create_join_token(std::string name, std::chrono::seconds ttl,
                                                               bool one_shot) override;
  boost::asio::awaitable<Status> approve(std::string id, std::string by) override;
  boost::asio::awaitable<Status> revoke(std::string id, std::string by) override;
  boost::asio::awaitable<std::size_t> forget_stale_pending() override;
  std::vector<AgentRecord> list() const override;
  AgentRecord as_seen_now(AgentRecord record) const;
  std::optional<AgentRecord> find(const std::string& id) const override;

  void note_connected(const std::string& id, const std::string& address, const std::string& version,
                      const std::string& hostname, const std::map<std::string, std::string>& labels) override;
  void note_seen(const std::string& id) override;
  void note_disconnected(const std::string& id) override;
  void on_revoked(std::function<void(const std::string& id)> callback) override {
    revoked_callbacks_.push_back(std::move(callback));
  }

 private:
  std::optional<StoredAgent> find_stored(const std::string& id) const;
  std::optional<StoredAgent> find_by_key(const std::string& public_key_sha256) const;
  std::size_t pending_count() const;
  // Puts `agent` in memory at once (so a racing enrolment sees it), then in
  // the store; the memory goes back to `before` when the store fails.
  boost::asio::awaitable<Status> save(const StoredAgent& changed, const std::optional<StoredAgent>& before);
  Status issue_certificate(StoredAgent& agent, const std::string& csr_pem);
  EnrolReply reply_for(const StoredAgent& agent) const;
  boost::asio::awaitable<void> forget_expired_tokens();

  tls::Authority authority_;
  tls::Identity server_;  // guarded by mutex_
  store::Store& store_;
  TrustOptions options_;
  JoinTokens join_tokens_;  // loop only
  std::vector<std::function<void(const std::string&)>> revoked_callbacks_;
  mutable std::mutex mutex_;  // guards agents_ and server_ (the interface promises any thread)
  std::map<std::string, StoredAgent> agents_;
};

boost::asio::awaitable<Status> DirectoryTrust::load() {
  auto agents = co_await store_.list_records(kAgentRecords);
  if (!agents) co_return agents.error();
  auto tokens = co_await store_.list_records(kJoinTokenRecords);
  if (!tokens) co_return tokens.error();
  {
    std::lock_guard lock(mutex_);
    for (const auto& json : *agents) {
      auto agent = agent_from_json(json);
      if (!agent) {
        spdlog::warn("an agent record in the store is unreadable: ignored (the agent must enrol again)");
        continue;
      }
      agents_[agent->record.id] = std::move(*agent);
    }
  }
  std::vector<StoredJoinToken> join_tokens;
  for (const auto& json : *tokens)
    if (auto token = join_token_from_json(json)) join_tokens.push_back(std::move(*token));
  join_tokens_.load(std::move(join_tokens));
  co_return Status{};
}

Status DirectoryTrust::open_server_identity() {
  auto renewed = renew_server_identity();  // also loads it the first time (no fingerprint yet)
  if (!renewed) return renewed.error();
  return {};
}

Result<bool> DirectoryTrust::renew_server_identity() {
  auto identity = authority_.ensure_server_identity("server", listener_names(), kServerCertificateValidity,
                                                    options_.renew_server_within);
  if (!identity) return make_error(identity.error().code, "agent listener certificate: " + identity.error().message);
  if (identity->fingerprint == server_identity().fingerprint) return false;
  std::lock_guard lock(mutex_);
  server_ = std::move(*identity);
  return true;
}

std::optional<StoredAgent> DirectoryTrust::find_stored(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto found = agents_.find(id);
  if (found == agents_.end()) return std::nullopt;
  return found->second;
}

std::optional<StoredAgent> DirectoryTrust::find_by_key(const std::string& public_key_sha256) const {
  std::lock_guard lock(mutex_);
  for (const auto& [id, agent] : agents_)
    if (agent.public_key_sha256 == public_key_sha256) return agent;
  return std::nullopt;
}

std::size_t DirectoryTrust::pending_count() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(agents_.begin(), agents_.end(), [](const auto& entry) {
    return entry.second.record.state == AgentState::Pending;
  }));
}

boost::asio::awaitable<Status> DirectoryTrust::save(const StoredAgent& changed,
                                                    const std::optional<StoredAgent>& before) {
  StoredAgent agent = changed;
  const std::string id = agent.record.id;
  const boost::json::object json = to_json(agent);
  {
    std::lock_guard lock(mutex_);
    // The live fields belong to the hub, not to this change.
    if (auto live = agents_.find(id); live != agents_.end()) {
      agent.record.connected = live->second.record.connected;
      agent.record.connected_since = live->second.record.connected_since;
      agent.record.last_seen = live->second.record.last_seen;
    }
    agents_[id] = std::move(agent);
  }
  auto saved = co_await store_.put_record(kAgentRecords, id, json);
  if (!saved) {
    std::lock_guard lock(mutex_);
    if (before)
      agents_[id] = *before;
    else
      agents_.erase(id);
  }
  co_return saved;
}

Status DirectoryTrust::issue_certificate(StoredAgent& agent, const std::string& csr_pem) {
  tls::ClientCertificateSpec spec;
  spec.common_name = agent.record.id;
  spec.uri_name = kUriPrefix + agent.record.id;
  spec.valid_for = options_.client_certificate_validity;
  auto issued = authority_.issue_client(csr_pem, spec);
  if (!issued) return issued.error();
  agent.certificate_pem = std::move(issued->certificate_pem);
  agent.record.certificate_fingerprint = std::move(issued->fingerprint);
  agent.certificate_expires_at = issued->not_after;
  return {};
}

EnrolReply DirectoryTrust::reply_for(const StoredAgent& agent) const {
  EnrolReply reply;
  reply.agent_id = agent.record.id;
  reply.ca_pem = authority_.certificate_pem();
  reply.retry_after = options_.retry_after;
  reply.approved = agent.record.state == AgentState::Approved && !agent.certificate_pem.empty();
  if (reply.approved) reply.certificate_pem = agent.certificate_pem;
  return reply;
}

std::string revoked_message(const std::string& id) {
  return "agent " + id + " has been revoked; to enrol this machine again, delete the agent's state folder (a new key) "
                         "and run a new join command";
}

boost::asio::awaitable<Result<EnrolReply>> DirectoryTrust::enrol(EnrolRequest request) {
  auto checked = tls::Authority::check_request(request.csr_pem);
  if (!checked) co_return checked.error();
  if (auto valid = check_enrol_details(request.hostname, request.labels, request.version); !valid)
    co_return valid.error();
  const double now = options_.now();
  std::optional<StoredAgent> before = find_by_key(checked->public_key_sha256);
  if (before && before->record.state == AgentState::Revoked)
    co_return make_error(ErrorCode::PermissionDenied, revoked_message(before->record.id));

  StoredAgent agent;
  if (before) {
    agent = *before;
  } else {
    agent.record.id = "agent-" + random_hex(8);
    agent.public_key_sha256 = checked->public_key_sha256;
    agent.requested_at = now;
  }
  if (!before || now - before->last_asked_at >= kRecordAskedEvery) agent.last_asked_at = now;
  agent.record.hostname = request.hostname;
  agent.record.labels = request.labels;
  agent.record.version = request.version;
  agent.record.address = request.peer;

  std::string joined_with;
  if (!request.join_token.empty()) {
    auto redeemed = join_tokens_.redeem(request.join_token, now);
    if (!redeemed) {
      spdlog::warn("agent enrolment from {} refused: {}", request.peer, redeemed.error().message);
      co_return redeemed.error();
    }
    joined_with = redeemed->name;
    if (redeemed->one_shot) {
      auto deleted = co_await store_.delete_record(kJoinTokenRecords, redeemed->name);
      if (!deleted) co_return deleted.error();
    }
    agent.record.state = AgentState::Approved;
    agent.record.enrolled_at = now;
    agent.record.enrolled_by = "join token " + redeemed->name;
    if (auto issued = issue_certificate(agent, request.csr_pem); !issued) co_return issued.error();
  } else if (agent.record.state == AgentState::Approved) {
    const bool renew = agent.certificate_pem.empty() ||
                       agent.certificate_expires_at - now < static_cast<double>(kRenewWithin.count());
    if (renew) {
      if (auto issued = issue_certificate(agent, request.csr_pem); !issued) co_return issued.error();
    }
  } else if (!before && pending_count() >= options_.max_pending) {
    co_return make_error(ErrorCode::Unavailable, "too many agents are waiting for approval (" +
                                                     std::to_string(options_.max_pending) +
                                                     "); approve or revoke some, or enrol with a join token");
  }

  const bool new_certificate = !before || before->certificate_pem != agent.certificate_pem;
  // A pending agent asks every few seconds (from a new port each time):
  // only a change is written.
  auto comparable = [](StoredAgent copy) {
    copy.record.address.clear();
    return to_json(copy);
  };
  const bool changed = !before || comparable(*before) != comparable(agent);
  if (changed) {
    auto saved = co_await save(agent, before);
    if (!saved) co_return saved.error();
  }
  if (!joined_with.empty())
    spdlog::info("agent {} ({}) enrolled from {} with join token '{}'", agent.record.id, agent.record.hostname,
                 request.peer, joined_with);
  else if (!before)
    spdlog::info("agent {} ({}) asks to enrol from {}: waiting for approval (steward agents approve {})",
                 agent.record.id, agent.record.hostname, request.peer, agent.record.id);
  else if (agent.record.state == AgentState::Approved && new_certificate)
    spdlog::info("agent {} ({}) received its certificate", agent.record.id, agent.record.hostname);
  co_return reply_for(agent);
}

Result<AgentRecord> DirectoryTrust::admit(const std::string& client_certificate_pem) const {
  auto verified = authority_.verify(client_certificate_pem);
  if (!verified) return verified.error();
  std::string id;
  for (const auto& uri : verified->uri_names)
    if (uri.starts_with(kUriPrefix)) id = uri.substr(std::string_view(kUriPrefix).size());
  if (id.empty()) return make_error(ErrorCode::PermissionDenied, "the certificate names no steward agent");
  std::lock_guard lock(mutex_);
  auto found = agents_.find(id);
  if (found == agents_.end()) return make_error(ErrorCode::PermissionDenied, "agent " + id + " is not known here");
  const AgentRecord& record = found->second.record;
  if (record.state == AgentState::Revoked) return make_error(ErrorCode::PermissionDenied, revoked_message(id));
  if (record.state != AgentState::Approved)
    return make_error(ErrorCode::PermissionDenied, "agent " + id + " is waiting for approval");
  if (record.certificate_fingerprint != verified->fingerprint)
    return make_error(ErrorCode::PermissionDenied,
                      "agent " + id + " presented a certificate that was replaced (it enrolled again since)");
  return record;
}

boost::asio::awaitable<void> DirectoryTrust::forget_expired_tokens() {
  for (const auto& name : join_tokens_.take_expired(options_.now() - kKeepExpiredTokens)) {
    auto deleted = co_await store_.delete_record(kJoinTokenRecords, name);
    if (!deleted) spdlog::warn("cannot delete expired join token '{}': {}", name, deleted.error().message);
  }
}

boost::asio::awaitable<Result<JoinToken>> DirectoryTrust::create_join_token(std::string name, std::chrono::seconds ttl,
                                                                             bool one_shot) {
  co_await forget_expired_tokens();
  JoinToken token;
  auto created = join_tokens_.create(std::move(name), ttl, one_shot, options_.now(), token.token);
  if (!created) co_return created.error();
  const boost::json::object json = to_json(*created);
  auto saved = co_await store_.put_record(kJoinTokenRecords, created->name, json);
  if (!saved) {
    join_tokens_.forget(created->name);
    co_return saved.error();
  }
  token.name = created->name;
  token.expires_at = created->expires_at;
  token.one_shot = created->one_shot;
  co_return token;
}

Error unknown_agent(const std::string& id) { return make_error(ErrorCode::NotFound, "no agent '" + id + "'"); }

boost::asio::awaitable<Status> DirectoryTrust::approve(std::string id, std::string by) {
  auto before = find_stored(id);
  if (!before) co_return unknown_agent(id);
  if (before->record.state == AgentState::Approved) co_return Status{};
  if (before->record.state == AgentState::Revoked) co_return make_error(ErrorCode::Conflict, revoked_message(id));
  StoredAgent agent = *before;
  agent.record.state = AgentState::Approved;
  agent.record.enrolled_at = options_.now();
  agent.record.enrolled_by = "approved by " + by;
  auto saved = co_await save(agent, before);
  if (!saved) co_return saved;
  spdlog::info("agent {} ({}) approved by {}", id, before->record.hostname, by);
  co_return Status{};
}

boost::asio::awaitable<Status> DirectoryTrust::revoke(std::string id, std::string by) {
  auto before = find_stored(id);
  if (!before) co_return unknown_agent(id);
  if (before->record.state != AgentState::Revoked) {
    StoredAgent agent = *before;
    agent.record.state = AgentState::Revoked;
    agent.revoked_at = options_.now();
    agent.revoked_by = by;
    auto saved = co_await save(agent, before);
    if (!saved) co_return saved;
    spdlog::info("agent {} ({}) revoked by {}", id, before->record.hostname, by);
  }
  // Also when revoked already: a stream that slipped through is closed too.
  for (const auto& callback : revoked_callbacks_) callback(id);
  co_return Status{};
}

boost::asio::awaitable<std::size_t> DirectoryTrust::forget_stale_pending() {
  const double asked_before = options_.now() - static_cast<double>(options_.forget_pending_after.count());
  std::vector<StoredAgent> stale;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, agent] : agents_)
      if (agent.record.state == AgentState::Pending && agent.last_asked_at < asked_before) stale.push_back(agent);
  }
  std::size_t forgotten = 0;
  for (const auto& agent : stale) {
    auto deleted = co_await store_.delete_record(kAgentRecords, agent.record.id);
    if (!deleted) {
      spdlog::warn("cannot forget pending agent {}: {}", agent.record.id, deleted.error().message);
      continue;
    }
    std::optional<StoredAgent> came_back;  // asked again while the record was being deleted
    {
      std::lock_guard lock(mutex_);
      auto found = agents_.find(agent.record.id);
      if (found != agents_.end() && found->second.last_asked_at >= asked_before)
        came_back = found->second;
      else if (found != agents_.end())
        agents_.erase(found);
    }
    if (came_back) {
      const boost::json::object json = to_json(*came_back);
      auto restored = co_await store_.put_record(kAgentRecords, came_back->record.id, json);
      if (!restored) spdlog::warn("cannot keep agent {}: {}", came_back->record.id, restored.error().message);
      continue;
    }
    ++forgotten;
    spdlog::info("agent {} ({}) forgotten: it waited for approval but has not asked for {} days", agent.record.id,
                 agent.record.hostname, options_.forget_pending_after.count() / 86400);
  }
  co_return forgotten;
}

std::vector<AgentRecord> DirectoryTrust::list() const {
  std::vector<std::pair<double, AgentRecord>> ordered;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, agent] : agents_) ordered.emplace_back(agent.requested_at, agent.record);
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<AgentRecord> records;
  for (auto& [at, record] : ordered) records.push_back(as_seen_now(std::move(record)));
  return records;
}

std::optional<AgentRecord> DirectoryTrust::find(const std::string& id) const {
  auto agent = find_stored(id);
  if (!agent) return std::nullopt;
  return as_seen_now(std::move(agent->record));
}

// A connected agent is seen now: TCP keepalive (tls::keep_alive) drops a
// silent link within ~15 s, so the server needs no ping of its own to
// prove it (issue 13: that ping was 667 messages a second at 10,000 agents).
AgentRecord DirectoryTrust::as_seen_now(AgentRecord record) const {
  if (record.connected) record.last_seen = options_.now();
  return record;
}

void DirectoryTrust::note_connected(const std::string& id, const std::string& address, const std::string& version,
                                    const std::string& hostname, const std::map<std::string, std::string>& labels) {
  std::lock_guard lock(mutex_);
  auto found = agents_.find(id);
  if (found == agents_.end()) return;
  AgentRecord& record = found->second.record;
  record.connected = true;
  record.connected_since = record.last_seen = options_.now();
  record.address = address;
  record.version = version;
  record.hostname = hostname;
  record.labels = labels;
}

void DirectoryTrust::note_seen(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (auto found = agents_.find(id); found != agents_.end()) found->second.record.last_seen = options_.now();
}

void DirectoryTrust::note_disconnected(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto found = agents_.find(id);
  if (found == agents_.end()) return;
  found->second.record.connected = false;
  found->second.record.last_seen = options_.now();
}

}  // namespace

boost::asio::awaitable<Result<std::unique_ptr<Trust>>> open_trust(const std::string& data_dir, store::Store& store,
                                                                   TrustOptions options) {
  const std::string dir = (fs::path(data_dir) / "agent-ca").string();
  auto authority = tls::Authority::open_or_create(dir, "steward agent CA " + random_hex(4));
  if (!authority) co_return make_error(authority.error().code, "agent CA: " + authority.error().message);
  if (authority->created()) spdlog::info("agent CA created in {} (pin {})", dir, authority->pin());
  auto trust = std::make_unique<DirectoryTrust>(std::move(*authority), store, std::move(options));
  if (auto opened = trust->open_server_identity(); !opened) co_return opened.error();
  auto loaded = co_await trust->load();
  if (!loaded) co_return loaded.error();
  co_await trust->forget_stale_pending();
  co_return std::unique_ptr<Trust>(std::move(trust));
}

boost::asio::awaitable<Result<std::unique_ptr<Trust>>> open_trust(const std::string& data_dir, store::Store& store) {
  TrustOptions defaults;
  auto opened = co_await open_trust(data_dir, store, std::move(defaults));
  co_return opened;
}

}  // namespace steward::agents
