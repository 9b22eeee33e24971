#include "agents/trust.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agents/trust_options.hpp"
#include "store/store.hpp"
#include "support/run_sync.hpp"
#include "support/test_dir.hpp"
#include "tls/authority.hpp"
#include "tls/identity.hpp"
#include "tls/keys.hpp"

namespace steward::agents {
namespace {

using testing::run_sync;
namespace fs = std::filesystem;

struct AgentKey {
  std::string key_pem;
  std::string request() const {
    auto csr = tls::make_signing_request(key_pem, "agent");
    EXPECT_TRUE(csr);
    return *csr;
  }
};

AgentKey new_key(const std::string& kind = "P-256") {
  auto key = tls::generate_private_key(kind);
  EXPECT_TRUE(key);
  return {*key};
}

class TrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("trust");
    logged_ = std::make_shared<std::ostringstream>();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*logged_);
    previous_logger_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    open();
  }
  void TearDown() override {
    trust_.reset();
    store_.reset();
    spdlog::set_default_logger(previous_logger_);
    fs::remove_all(dir_);
  }
  void open() {
    trust_.reset();
    store_.reset();
    auto store = store::open_store({"", dir_.string()});
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    TrustOptions options;
    options.now = [this] { return now_; };
    options.max_pending = max_pending_;
    options.renew_server_within = renew_server_within_;
    auto trust = run_sync(open_trust(dir_.string(), *store_, std::move(options)));
    ASSERT_TRUE(trust) << trust.error().message;
    trust_ = std::move(*trust);
  }
  Result<EnrolReply> enrol(const AgentKey& key, const std::string& token = "", const std::string& hostname = "box") {
    EnrolRequest request;
    request.join_token = token;
    request.csr_pem = key.request();
    request.hostname = hostname;
    request.labels = {{"role", "web"}};
    request.version = "1.2.3";
    request.peer = "10.0.0.7:41000";
    return run_sync(trust_->enrol(std::move(request)));
  }
  JoinToken join_token(const std::string& name = "", std::chrono::seconds ttl = std::chrono::hours(24),
                       bool one_shot = false) {
    auto token = run_sync(trust_->create_join_token(name, ttl, one_shot));
    EXPECT_TRUE(token) << token.error().message;
    return *token;
  }
  std::string everything_stored() {
    std::string text;
    for (const char* kind : {"agent", "agent_join"}) {
      auto records = run_sync(store_->list_records(kind));
      EXPECT_TRUE(records);
      for (const auto& record : *records) text += boost::json::serialize(record);
    }
    return text;
  }

  fs::path dir_;
  double now_ = 1'800'000'000;
  std::size_t max_pending_ = 1000;
  std::chrono::seconds renew_server_within_{std::chrono::hours(24 * 30)};
  std::shared_ptr<std::ostringstream> logged_;
  std::shared_ptr<spdlog::logger> previous_logger_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Trust> trust_;
};

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  ::stat(path.c_str(), &info);
  return info.st_mode & 0777;
}

TEST_F(TrustTest, KeepsItsCaInTheDataDir) {
  const fs::path ca = dir_ / "agent-ca";
  EXPECT_EQ(mode_of(ca), 0700u);
  EXPECT_EQ(mode_of(ca / "ca.key"), 0600u);
  EXPECT_EQ(mode_of(ca / "server.key"), 0600u);
  EXPECT_TRUE(trust_->ca_pin().starts_with("sha256:"));
  EXPECT_EQ(trust_->ca_pin().size(), 7u + 64u);
  auto pins = tls::certificate_pins(trust_->server_identity().certificate_chain_pem);
  ASSERT_EQ(pins.size(), 2u);
  EXPECT_EQ(pins[1], trust_->ca_pin());
  EXPECT_EQ(tls::certificate_pins(trust_->ca_pem()), std::vector<std::string>{trust_->ca_pin()});
  const std::string pin = trust_->ca_pin(), server = trust_->server_identity().fingerprint;
  open();
  EXPECT_EQ(trust_->ca_pin(), pin);
  EXPECT_EQ(trust_->server_identity().fingerprint, server);
}

TEST_F(TrustTest, ACorruptCaKeyFailsTheStartNamingTheFile) {
  trust_.reset();
  std::ofstream(dir_ / "agent-ca" / "ca.key") << "garbage";
  auto opened = run_sync(open_trust(dir_.string(), *store_));
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find((dir_ / "agent-ca" / "ca.key").string()), std::string::npos)
      << opened.error().message;
}

TEST_F(TrustTest, WithoutATokenAnAgentWaitsForApprovalUnderOneId) {
  const AgentKey key = new_key();
  auto first = enrol(key);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(first->approved);
  EXPECT_TRUE(first->certificate_pem.empty());
  EXPECT_TRUE(first->agent_id.starts_with("agent-"));
  EXPECT_EQ(first->agent_id.size(), 6u + 16u);
  EXPECT_GT(first->retry_after.count(), 0);
  auto again = enrol(key);  // a new CSR from the same key
  ASSERT_TRUE(again);
  EXPECT_EQ(again->agent_id, first->agent_id);
  EXPECT_FALSE(again->approved);
  ASSERT_EQ(trust_->list().size(), 1u);
  const AgentRecord listed = trust_->list().front();
  EXPECT_EQ(listed.state, AgentState::Pending);
  EXPECT_EQ(listed.hostname, "box");
  EXPECT_EQ(listed.labels.at("role"), "web");
  EXPECT_EQ(listed.address, "10.0.0.7:41000");

  ASSERT_TRUE(run_sync(trust_->approve(first->agent_id, "alice")));
  auto approved = enrol(key);
  ASSERT_TRUE(approved) << approved.error().message;
  EXPECT_TRUE(approved->approved);
  EXPECT_EQ(approved->agent_id, first->agent_id);
  EXPECT_FALSE(approved->certificate_pem.empty());
  EXPECT_EQ(approved->ca_pem, trust_->ca_pem());
  auto admitted = trust_->admit(approved->certificate_pem);
  ASSERT_TRUE(admitted) << admitted.error().message;
  EXPECT_EQ(admitted->id, first->agent_id);
  EXPECT_EQ(admitted->enrolled_by, "approved by alice");
  EXPECT_EQ(admitted->state, AgentState::Approved);

  auto asked_again = enrol(key);
  ASSERT_TRUE(asked_again);
  EXPECT_EQ(asked_again->certificate_pem, approved->certificate_pem) << "the same certificate, not a new one";
}

TEST_F(TrustTest, OnlyApprovedKnownAgentsAreAdmitted) {
  auto pending = enrol(new_key());
  ASSERT_TRUE(pending);
  // Certificates from this very CA, for a pending and for an unknown id.
  auto authority = tls::Authority::open_or_create((dir_ / "agent-ca").string(), "unused");
  ASSERT_TRUE(authority) << authority.error().message;
  auto issue = [&](const std::string& id) {
    auto issued = authority->issue_client(new_key().request(), {id, "steward-agent:" + id, std::chrono::hours(1)});
    EXPECT_TRUE(issued);
    return issued->certificate_pem;
  };
  auto waiting = trust_->admit(issue(pending->agent_id));
  ASSERT_FALSE(waiting);
  EXPECT_NE(waiting.error().message.find("waiting for approval"), std::string::npos) << waiting.error().message;
  auto unknown = trust_->admit(issue("agent-0000000000000000"));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("not known"), std::string::npos) << unknown.error().message;
  auto nameless = authority->issue_client(new_key().request(), {"x", "https:x", std::chrono::hours(1)});
  ASSERT_TRUE(nameless);
  EXPECT_FALSE(trust_->admit(nameless->certificate_pem));
}

TEST_F(TrustTest, AValidJoinTokenApprovesAtOnce) {
  const JoinToken token = join_token("ci");
  EXPECT_EQ(token.name, "ci");
  EXPECT_EQ(token.token.size(), 64u);
  EXPECT_DOUBLE_EQ(token.expires_at, now_ + 86400);
  auto reply = enrol(new_key(), token.token);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_TRUE(reply->approved);
  auto admitted = trust_->admit(reply->certificate_pem);
  ASSERT_TRUE(admitted) << admitted.error().message;
  EXPECT_EQ(admitted->enrolled_by, "join token ci");
  EXPECT_DOUBLE_EQ(admitted->enrolled_at, now_);
  EXPECT_TRUE(enrol(new_key(), token.token)) << "a reusable token works again";
}

TEST_F(TrustTest, AOneShotTokenWorksOnce) {
  const JoinToken token = join_token("once", std::chrono::hours(1), true);
  ASSERT_TRUE(enrol(new_key(), token.token));
  auto second = enrol(new_key(), token.token);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::PermissionDenied);
  open();
  EXPECT_FALSE(enrol(new_key(), token.token)) << "used up across a restart too";
}

TEST_F(TrustTest, ExpiredUnknownAndBadTokensAreRefused) {
  const JoinToken token = join_token("short", std::chrono::seconds(60));
  now_ += 61;
  auto expired = enrol(new_key(), token.token);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::PermissionDenied);
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos) << expired.error().message;
  auto unknown = enrol(new_key(), std::string(64, 'a'));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::PermissionDenied);
  EXPECT_TRUE(trust_->list().empty()) << "a refused enrolment leaves no agent behind";
}

TEST_F(TrustTest, JoinTokenNamesAndTtlsAreChecked) {
  EXPECT_EQ(run_sync(trust_->create_join_token("ok", std::chrono::seconds(0), false)).error().code,
            ErrorCode::InvalidArgument);
  EXPECT_EQ(run_sync(trust_->create_join_token("ok", std::chrono::hours(24 * 400), false)).error().code,
            ErrorCode::InvalidArgument);
  EXPECT_EQ(run_sync(trust_->create_join_token("bad name", std::chrono::hours(1), false)).error().code,
            ErrorCode::InvalidArgument);
  join_token("taken");
  EXPECT_EQ(run_sync(trust_->create_join_token("taken", std::chrono::hours(1), false)).error().code,
            ErrorCode::Conflict);
  const JoinToken unnamed = join_token();
  EXPECT_TRUE(unnamed.name.starts_with("join-")) << unnamed.name;
}

TEST_F(TrustTest, ARevokedAgentIsCutOffAndCannotEnrolAgain) {
  const AgentKey key = new_key();
  const JoinToken token = join_token();
  auto enrolled = enrol(key, token.token);
  ASSERT_TRUE(enrolled);
  std::vector<std::string> revoked;
  trust_->on_revoked([&revoked](const std::string& id) { revoked.push_back(id); });
  ASSERT_TRUE(run_sync(trust_->revoke(enrolled->agent_id, "bob")));
  EXPECT_EQ(revoked, std::vector<std::string>{enrolled->agent_id});
  auto admitted = trust_->admit(enrolled->certificate_pem);
  ASSERT_FALSE(admitted);
  EXPECT_EQ(admitted.error().code, ErrorCode::PermissionDenied);
  for (const std::string& with : {token.token, std::string()}) {
    auto again = enrol(key, with);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::PermissionDenied);
  }
  EXPECT_EQ(run_sync(trust_->approve(enrolled->agent_id, "bob")).error().code, ErrorCode::Conflict);
  open();
  EXPECT_FALSE(trust_->admit(enrolled->certificate_pem)) << "still revoked after a restart";
  EXPECT_EQ(trust_->find(enrolled->agent_id)->state, AgentState::Revoked);
}

TEST_F(TrustTest, ReEnrollingWithATokenReplacesTheCertificate) {
  const AgentKey key = new_key();
  const JoinToken token = join_token();
  auto first = enrol(key, token.token);
  auto second = enrol(key, token.token);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(second->agent_id, first->agent_id);
  EXPECT_NE(second->certificate_pem, first->certificate_pem);
  auto stale = trust_->admit(first->certificate_pem);
  ASSERT_FALSE(stale);
  EXPECT_NE(stale.error().message.find("replaced"), std::string::npos) << stale.error().message;
  EXPECT_TRUE(trust_->admit(second->certificate_pem));
}

TEST_F(TrustTest, AdmitRefusesCertificatesOfAnotherCa) {
  const fs::path other = dir_ / "other-ca";
  auto authority = tls::Authority::open_or_create(other.string(), "other");
  ASSERT_TRUE(authority);
  auto enrolled = enrol(new_key(), join_token().token);
  ASSERT_TRUE(enrolled);
  // The same id and key, signed by another CA.
  auto forged = authority->issue_client(new_key().request(),
                                        {enrolled->agent_id, "steward-agent:" + enrolled->agent_id, std::chrono::hours(1)});
  ASSERT_TRUE(forged);
  auto admitted = trust_->admit(forged->certificate_pem);
  ASSERT_FALSE(admitted);
  EXPECT_EQ(admitted.error().code, ErrorCode::PermissionDenied);
  EXPECT_FALSE(trust_->admit("garbage"));
}

TEST_F(TrustTest, BadRequestsAreInvalidArguments) {
  EnrolRequest garbage;
  garbage.csr_pem = "not a request";
  garbage.hostname = "box";
  auto reply = run_sync(trust_->enrol(std::move(garbage)));
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::InvalidArgument);
  auto weak = enrol(new_key("RSA-1024"));
  ASSERT_FALSE(weak);
  EXPECT_EQ(weak.error().code, ErrorCode::InvalidArgument);
  auto no_hostname = enrol(new_key(), "", "");
  ASSERT_FALSE(no_hostname);
  EXPECT_EQ(no_hostname.error().code, ErrorCode::InvalidArgument);
  auto control = enrol(new_key(), "", "box\n");
  ASSERT_FALSE(control);
  EXPECT_TRUE(trust_->list().empty());
}

TEST_F(TrustTest, PendingAgentsAreBounded) {
  max_pending_ = 2;
  open();
  ASSERT_TRUE(enrol(new_key()));
  const AgentKey second = new_key();
  ASSERT_TRUE(enrol(second));
  auto third = enrol(new_key());
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::Unavailable);
  EXPECT_TRUE(enrol(second)) << "one already waiting may still ask";
  EXPECT_TRUE(enrol(new_key(), join_token().token)) << "a token needs no room among the pending";
}

TEST_F(TrustTest, PendingAgentsThatStopAskingAreForgottenAfterAWeek) {
  constexpr double kDay = 86400;
  const AgentKey gone = new_key(), stays = new_key();
  auto gone_reply = enrol(gone, "", "gone");
  ASSERT_TRUE(enrol(stays, "", "stays"));
  ASSERT_TRUE(enrol(new_key(), join_token().token, "joined"));
  now_ += 6 * kDay;
  ASSERT_TRUE(enrol(stays, "", "stays"));
  now_ += kDay + 1;
  EXPECT_EQ(run_sync(trust_->forget_stale_pending()), 1u);
  auto hostnames = [this] {
    std::vector<std::string> names;
    for (const auto& agent : trust_->list()) names.push_back(agent.hostname);
    std::sort(names.begin(), names.end());
    return names;
  };
  EXPECT_EQ(hostnames(), (std::vector<std::string>{"joined", "stays"})) << "approved agents are never forgotten";
  EXPECT_EQ(everything_stored().find(gone_reply->agent_id), std::string::npos);
  EXPECT_NE(logged_->str().find("agent " + gone_reply->agent_id + " (gone) forgotten"), std::string::npos)
      << logged_->str();
  EXPECT_EQ(run_sync(trust_->forget_stale_pending()), 0u);

  now_ += 6 * kDay;  // "stays" last asked 7 days and 1 s ago: forgotten at the next start
  open();
  EXPECT_EQ(hostnames(), (std::vector<std::string>{"joined"}));
  auto back = enrol(gone, "", "gone");
  ASSERT_TRUE(back);
  EXPECT_NE(back->agent_id, gone_reply->agent_id) << "a forgotten agent asks anew";
}

TEST_F(TrustTest, TheListenerCertificateIsRenewedAheadOfItsEnd) {
  const auto first = trust_->server_identity();
  auto renewed = trust_->renew_server_identity();
  ASSERT_TRUE(renewed) << renewed.error().message;
  EXPECT_FALSE(*renewed) << "397 days left: nothing to do";

  renew_server_within_ = std::chrono::hours(24 * 398);  // every certificate ends "soon"
  open();
  const auto second = trust_->server_identity();
  EXPECT_NE(second.fingerprint, first.fingerprint) << "renewed at open";
  renewed = trust_->renew_server_identity();
  ASSERT_TRUE(renewed) << renewed.error().message;
  EXPECT_TRUE(*renewed);
  const auto third = trust_->server_identity();
  EXPECT_NE(third.fingerprint, second.fingerprint);
}

TEST_F(TrustTest, ApproveAndRevokeOfAnUnknownIdAreNotFound) {
  EXPECT_EQ(run_sync(trust_->approve("agent-0000000000000000", "x")).error().code, ErrorCode::NotFound);
  EXPECT_EQ(run_sync(trust_->revoke("agent-0000000000000000", "x")).error().code, ErrorCode::NotFound);
  EXPECT_FALSE(trust_->find("agent-0000000000000000"));
}

TEST_F(TrustTest, TheDirectorySurvivesARestart) {
  auto pending = enrol(new_key(), "", "waiting");
  now_ += 1;  // listed in the order they first asked
  auto joined = enrol(new_key(), join_token("j").token, "joined");
  ASSERT_TRUE(pending && joined);
  open();
  auto list = trust_->list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].hostname, "waiting");
  EXPECT_EQ(list[0].state, AgentState::Pending);
  EXPECT_EQ(list[1].hostname, "joined");
  EXPECT_EQ(list[1].state, AgentState::Approved);
  EXPECT_TRUE(trust_->admit(joined->certificate_pem));
}

TEST_F(TrustTest, LiveStateIsKeptInMemory) {
  auto joined = enrol(new_key(), join_token().token);
  ASSERT_TRUE(joined);
  const std::string id = joined->agent_id;
  trust_->note_connected(id, "192.0.2.1:5000", "2.0", "renamed", {{"zone", "b"}});
  auto record = trust_->find(id);
  EXPECT_TRUE(record->connected);
  EXPECT_DOUBLE_EQ(record->connected_since, now_);
  EXPECT_EQ(record->address, "192.0.2.1:5000");
  EXPECT_EQ(record->hostname, "renamed");
  now_ += 5;
  EXPECT_DOUBLE_EQ(trust_->find(id)->last_seen, now_);  // connected: seen now (keepalive proves the stream)
  EXPECT_DOUBLE_EQ(trust_->list().front().last_seen, now_);
  trust_->note_seen(id);
  EXPECT_DOUBLE_EQ(trust_->find(id)->last_seen, now_);
  trust_->note_disconnected(id);
  EXPECT_FALSE(trust_->find(id)->connected);
  const double gone_at = now_;
  now_ += 60;
  EXPECT_DOUBLE_EQ(trust_->find(id)->last_seen, gone_at);  // away: when the stream ended
  trust_->note_seen("agent-unknown");  // ignored
}

TEST_F(TrustTest, NoSecretReachesTheStoreTheLogOrAnError) {
  const JoinToken once = join_token("once", std::chrono::hours(1), true);
  const JoinToken reusable = join_token("many");
  const AgentKey key = new_key();
  ASSERT_TRUE(enrol(key, once.token));
  auto refused = enrol(new_key(), once.token);
  ASSERT_FALSE(refused);
  auto wrong = enrol(new_key(), reusable.token + "x");
  ASSERT_FALSE(wrong);
  ASSERT_TRUE(enrol(new_key(), reusable.token));
  now_ += 86400 * 2;
  auto expired = enrol(new_key(), reusable.token);
  ASSERT_FALSE(expired);
  spdlog::default_logger()->flush();
  const std::string stored = everything_stored(), logged = logged_->str();
  const std::string errors = refused.error().message + wrong.error().message + expired.error().message;
  for (const std::string& secret : {once.token, reusable.token}) {
    EXPECT_EQ(stored.find(secret), std::string::npos);
    EXPECT_EQ(logged.find(secret), std::string::npos) << logged;
    EXPECT_EQ(errors.find(secret), std::string::npos) << errors;
  }
  EXPECT_NE(logged.find("join token 'once'"), std::string::npos) << "the log names tokens by name: " << logged;
  EXPECT_NE(logged.find("join token 'many'"), std::string::npos) << logged;
  std::ifstream ca_key(dir_ / "agent-ca" / "ca.key");
  std::string line, key_body;
  while (std::getline(ca_key, line))
    if (!line.starts_with("-----")) key_body += line;
  ASSERT_FALSE(key_body.empty());
  EXPECT_EQ(stored.find(key_body.substr(0, 40)), std::string::npos);
  EXPECT_EQ(logged.find(key_body.substr(0, 40)), std::string::npos);
}

}  // namespace
}  // namespace steward::agents
