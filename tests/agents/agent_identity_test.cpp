#include "agents/agent_identity.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agents/trust_options.hpp"
#include "store/store.hpp"
#include "support/run_sync.hpp"
#include "support/test_dir.hpp"
#include "tls/authority.hpp"
#include "tls/identity.hpp"

namespace steward::agents {
namespace {

using testing::run_sync;
namespace fs = std::filesystem;

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  ::stat(path.c_str(), &info);
  return info.st_mode & 0777;
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A TLS server on 127.0.0.1 presenting `identity`, finishing handshakes
// until destroyed.
class TlsServer {
 public:
  explicit TlsServer(const tls::Identity& identity) {
    ::signal(SIGPIPE, SIG_IGN);  // a client may hang up before the server's last write
    context_ = SSL_CTX_new(TLS_server_method());
    BIO* chain = BIO_new_mem_buf(identity.certificate_chain_pem.data(), static_cast<int>(identity.certificate_chain_pem.size()));
    bool first = true;
    while (X509* certificate = PEM_read_bio_X509(chain, nullptr, nullptr, nullptr)) {
      if (first)
        SSL_CTX_use_certificate(context_, certificate);
      else
        SSL_CTX_add1_chain_cert(context_, certificate);
      X509_free(certificate);
      first = false;
    }
    BIO_free(chain);
    BIO* key = BIO_new_mem_buf(identity.private_key_pem.data(), static_cast<int>(identity.private_key_pem.size()));
    EVP_PKEY* private_key = PEM_read_bio_PrivateKey(key, nullptr, nullptr, nullptr);
    SSL_CTX_use_PrivateKey(context_, private_key);
    EVP_PKEY_free(private_key);
    BIO_free(key);
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 8);
    socklen_t size = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TlsServer() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
    SSL_CTX_free(context_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    for (;;) {
      int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      SSL* ssl = SSL_new(context_);
      SSL_set_fd(ssl, connection);
      if (SSL_accept(ssl) == 1) SSL_shutdown(ssl);
      SSL_free(ssl);
      ::close(connection);
    }
  }
  SSL_CTX* context_ = nullptr;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

class AgentIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("agent-identity");
    fs::create_directories(dir_ / "server");
    auto store = store::open_store({"", (dir_ / "server").string()});
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    TrustOptions trust_options;
    trust_options.retry_after = std::chrono::seconds(0);
    auto trust = run_sync(open_trust((dir_ / "server").string(), *store_, std::move(trust_options)));
    ASSERT_TRUE(trust) << trust.error().message;
    trust_ = std::move(*trust);
    server_ = std::make_unique<TlsServer>(trust_->server_identity());
  }
  void TearDown() override {
    server_.reset();
    trust_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  EnrolOptions options(const std::string& token = "") const {
    EnrolOptions options;
    options.server = server_->address();
    options.join_token = token;
    options.ca_pin = trust_->ca_pin();
    options.state_dir = state_dir().string();
    options.hostname = "target-1";
    options.labels = {{"zone", "a"}};
    options.version = "1.0";
    options.min_retry = std::chrono::seconds(0);
    return options;
  }
  fs::path state_dir() const { return dir_ / "agent" / "state"; }
  // The server's Enrol, called in process; records what was sent.
  EnrolCall call() {
    return [this](const EnrolRequest& request, const std::string& ca_pem) -> Result<EnrolReply> {
      sent_.push_back(request);
      EXPECT_EQ(ca_pem, trust_->ca_pem()) << "the agent talks to the pinned CA only";
      if (before_call_) before_call_(sent_.size());
      EnrolRequest copy = request;
      copy.peer = "127.0.0.1:1";
      return run_sync(trust_->enrol(std::move(copy)));
    };
  }
  std::string join_token(bool one_shot = false) {
    auto token = run_sync(trust_->create_join_token("", std::chrono::hours(1), one_shot));
    EXPECT_TRUE(token);
    return token->token;
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Trust> trust_;
  std::unique_ptr<TlsServer> server_;
  std::vector<EnrolRequest> sent_;
  std::function<void(std::size_t calls)> before_call_;
};

TEST(DefaultAgentStateDir, DependsOnTheUserAndXdg) {
  EXPECT_EQ(default_agent_state_dir(true, "/x", "/home/u"), "/var/lib/steward-agent");
  EXPECT_EQ(default_agent_state_dir(false, "/x/state", "/home/u"), "/x/state/steward-agent");
  EXPECT_EQ(default_agent_state_dir(false, nullptr, "/home/u"), "/home/u/.local/state/steward-agent");
  EXPECT_EQ(default_agent_state_dir(false, "relative", "/home/u"), "/home/u/.local/state/steward-agent")
      << "XDG wants absolute paths";
}

TEST_F(AgentIdentityTest, PinsTheServersCaFromItsChain) {
  fs::create_directories(state_dir());
  auto ca = pin_server_ca(server_->address(), trust_->ca_pin(), state_dir().string());
  ASSERT_TRUE(ca) << ca.error().message;
  EXPECT_EQ(*ca, trust_->ca_pem());
  EXPECT_EQ(read(state_dir() / "ca.pem"), trust_->ca_pem());
  EXPECT_EQ(mode_of(state_dir() / "ca.pem"), 0600u);
}

TEST_F(AgentIdentityTest, AWrongPinIsRefusedAndNothingIsSaved) {
  fs::create_directories(state_dir());
  const std::string wrong = "sha256:" + std::string(64, '0');
  auto ca = pin_server_ca(server_->address(), wrong, state_dir().string());
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, ErrorCode::PermissionDenied);
  EXPECT_NE(ca.error().message.find(wrong), std::string::npos) << ca.error().message;
  EXPECT_NE(ca.error().message.find(trust_->ca_pin()), std::string::npos) << "it says what was presented";
  EXPECT_FALSE(fs::exists(state_dir() / "ca.pem"));
  // The listener's own certificate is in the chain too, but is no CA.
  const std::string leaf_pin = tls::certificate_pins(trust_->server_identity().certificate_chain_pem).front();
  EXPECT_FALSE(pin_server_ca(server_->address(), leaf_pin, state_dir().string()));
  auto failed = enrol([&] {
    auto with_wrong_pin = options(join_token());
    with_wrong_pin.ca_pin = wrong;
    return with_wrong_pin;
  }(), call());
  ASSERT_FALSE(failed);
  EXPECT_TRUE(sent_.empty()) << "nothing is sent to a server whose CA does not match";
}

TEST_F(AgentIdentityTest, AClosedPortIsUnreachable) {
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(probe);
  auto ca = pin_server_ca("127.0.0.1:" + std::to_string(ntohs(address.sin_port)), trust_->ca_pin(), dir_.string());
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, ErrorCode::Unreachable);
  EXPECT_EQ(pin_server_ca("no-port", trust_->ca_pin(), dir_.string()).error().code, ErrorCode::InvalidArgument);
}

TEST_F(AgentIdentityTest, EnrolsWithATokenAndKeepsItsKeyAtHome) {
  auto credentials = enrol(options(join_token()), call());
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_TRUE(credentials->agent_id.starts_with("agent-"));
  EXPECT_EQ(mode_of(state_dir()), 0700u);
  EXPECT_EQ(mode_of(state_dir() / "agent.key"), 0600u);
  EXPECT_EQ(read(state_dir() / "agent.key"), credentials->private_key_pem);
  EXPECT_EQ(read(state_dir() / "agent.pem"), credentials->certificate_pem);
  EXPECT_EQ(read(state_dir() / "ca.pem"), trust_->ca_pem());
  EXPECT_EQ(read(state_dir() / "agent.id"), credentials->agent_id + "\n");
  auto admitted = trust_->admit(credentials->certificate_pem);
  ASSERT_TRUE(admitted) << admitted.error().message;
  EXPECT_EQ(admitted->hostname, "target-1");
  EXPECT_EQ(admitted->labels.at("zone"), "a");
  ASSERT_EQ(sent_.size(), 1u);
  std::string key_body;
  std::istringstream lines(credentials->private_key_pem);
  for (std::string line; std::getline(lines, line);)
    if (!line.starts_with("-----")) key_body += line;
  for (const auto& request : sent_) {
    EXPECT_EQ(request.csr_pem.find(key_body.substr(0, 40)), std::string::npos);
    EXPECT_EQ(request.csr_pem.find("PRIVATE KEY"), std::string::npos);
  }
}

TEST_F(AgentIdentityTest, LaterStartsUseTheSavedCredentials) {
  auto first = enrol(options(join_token(true)), call());
  ASSERT_TRUE(first) << first.error().message;
  const std::size_t calls = sent_.size();
  auto later = enrol(options(), call());  // the used one-shot token is not needed again
  ASSERT_TRUE(later) << later.error().message;
  EXPECT_EQ(sent_.size(), calls) << "no enrolment";
  EXPECT_EQ(later->agent_id, first->agent_id);
  EXPECT_EQ(later->certificate_pem, first->certificate_pem);
  auto loaded = load_agent_credentials(state_dir().string());
  ASSERT_TRUE(loaded && *loaded);
  EXPECT_EQ((*loaded)->agent_id, first->agent_id);
}

TEST_F(AgentIdentityTest, WithoutATokenItAsksAgainUntilApproved) {
  before_call_ = [this](std::size_t calls) {
    if (calls == 3) {
      auto id = read(state_dir() / "agent.id");
      ASSERT_FALSE(id.empty());
      id.pop_back();
      ASSERT_TRUE(run_sync(trust_->approve(id, "test")));
    }
  };
  auto credentials = enrol(options(), call());
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[0].csr_pem, sent_[2].csr_pem) << "one key, one request";
  EXPECT_TRUE(trust_->admit(credentials->certificate_pem));
}

TEST_F(AgentIdentityTest, AStopEndsTheWaitAndTheNextStartKeepsItsId) {
  std::stop_source stop;
  stop.request_stop();
  auto stopped_options = options();
  stopped_options.stop = stop.get_token();
  auto stopped = enrol(stopped_options, call());
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, ErrorCode::Cancelled);
  auto id = read(state_dir() / "agent.id");
  ASSERT_FALSE(id.empty());
  id.pop_back();
  ASSERT_TRUE(run_sync(trust_->approve(id, "test")));
  auto restarted = options();
  restarted.ca_pin.clear();  // pinned already
  auto credentials = enrol(restarted, call());
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->agent_id, id);
}

TEST_F(AgentIdentityTest, TheFirstEnrolmentNeedsAPinAndLaterOnesMustMatchIt) {
  auto no_pin = options(join_token());
  no_pin.ca_pin.clear();
  auto refused = enrol(no_pin, call());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("--ca-pin"), std::string::npos);
  fs::create_directories(state_dir());
  ASSERT_TRUE(pin_server_ca(server_->address(), trust_->ca_pin(), state_dir().string()));
  auto other_pin = options(join_token());
  other_pin.ca_pin = "sha256:" + std::string(64, 'f');
  auto mismatch = enrol(other_pin, call());
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::PermissionDenied);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(AgentIdentityTest, ARefusalFromTheServerIsReturned) {
  auto refused = enrol(options("not-a-token"), call());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::PermissionDenied);
  EXPECT_FALSE(fs::exists(state_dir() / "agent.pem"));
}

TEST_F(AgentIdentityTest, AKeyOpenToOthersIsRefused) {
  ASSERT_TRUE(enrol(options(join_token()), call()));
  fs::permissions(state_dir() / "agent.key", fs::perms::others_read, fs::perm_options::add);
  auto loaded = load_agent_credentials(state_dir().string());
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos) << loaded.error().message;
}

TEST_F(AgentIdentityTest, ACertificateFromAnotherCaIsNotLoaded) {
  ASSERT_TRUE(enrol(options(join_token()), call()));
  auto other = tls::Authority::open_or_create((dir_ / "other-ca").string(), "other");
  ASSERT_TRUE(other);
  std::ofstream(state_dir() / "ca.pem") << other->certificate_pem();
  auto loaded = load_agent_credentials(state_dir().string());
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("agent.pem"), std::string::npos) << loaded.error().message;
}

}  // namespace
}  // namespace steward::agents
