// The agent listener against what no real agent sends: an admitted agent's
// junk or oversized frame ends its link with a Goodbye that says why (the
// server goes on), and a Hello without a client certificate is refused.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <filesystem>

#include "agent.pb.h"
#include "agent/dial.hpp"
#include "agent/wire.hpp"
#include "agents/trust.hpp"
#include "api/agents/agent_listener.hpp"
#include "store/store.hpp"
#include "support/run_sync.hpp"
#include "support/test_dir.hpp"
#include "tls/frame_stream.hpp"
#include "tls/keys.hpp"
#include "transport/agent/hub.hpp"

namespace steward::api::agent_rpc {
namespace {

namespace asio = boost::asio;
namespace v1 = ::steward::agent::v1;
using namespace std::chrono_literals;
using Stream = std::shared_ptr<tls::FrameStream>;

class AgentLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("agent-link");
    auto store = store::open_store({"", dir_.string()});
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    auto trust = steward::testing::run_sync(io_, agents::open_trust(dir_.string(), *store_));
    ASSERT_TRUE(trust) << trust.error().message;
    trust_ = std::move(*trust);
    hub_ = std::make_unique<transport::agent::AgentHub>(io_.get_executor(), transport::agent::HubOptions{}, trust_.get());
    listener_ = std::make_unique<AgentListener>(*hub_, *trust_);
    auto port = listener_->listen("127.0.0.1:0");
    ASSERT_TRUE(port) << port.error().message;
    address_ = "127.0.0.1:" + std::to_string(*port);
  }

  void TearDown() override {
    if (listener_) steward::testing::run_until_done(io_, [this]() -> asio::awaitable<bool> {
        co_await listener_->shutdown();
        co_return true;
      }());
    io_.restart();
    io_.run_for(2s);  // what the shutdown ended finishes
    listener_.reset();
    hub_.reset();
    std::filesystem::remove_all(dir_);
  }

  // An enrolled agent's credentials, issued by the Trust directly.
  agent::ClientCredentials enrolled() {
    auto key = tls::generate_private_key("P-256");
    auto csr = tls::make_signing_request(*key, "agent");
    auto token = steward::testing::run_until_done(io_, trust_->create_join_token("t" + std::to_string(++tokens_), 1h, false));
    EXPECT_TRUE(token);
    agents::EnrolRequest request{token->token, *csr, "box", {}, "test", "127.0.0.1:1"};
    auto reply = steward::testing::run_until_done(io_, trust_->enrol(std::move(request)));
    EXPECT_TRUE(reply && reply->approved);
    agent_id_ = reply->agent_id;
    return {trust_->ca_pem(), reply->certificate_pem, *key};
  }

  static asio::awaitable<Result<v1::ServerMessage>> next(Stream stream) {
    auto frame = co_await stream->read_frame(agent::kMaxFrame);
    if (!frame) co_return frame.error();
    v1::ServerMessage message;
    if (!message.ParseFromString(*frame)) co_return make_error(ErrorCode::Internal, "not a ServerMessage");
    co_return message;
  }

  static std::string hello_frame() {
    v1::AgentMessage hello;
    hello.mutable_hello()->set_hostname("box");
    return agent::frame_of(hello);
  }

  // Dials with `credentials`, says Hello, sends `after` (raw bytes), and
  // returns every message the server sent until the link ended.
  std::vector<v1::ServerMessage> exchange(const agent::ClientCredentials& credentials, std::string after,
                                          bool* connected_midway = nullptr) {
    return steward::testing::run_until_done(io_, [&]() -> asio::awaitable<std::vector<v1::ServerMessage>> {
      std::vector<v1::ServerMessage> got;
      auto context = agent::make_context(credentials);
      EXPECT_TRUE(context);
      auto dialled = co_await agent::dial(address_, *context, 5s);
      EXPECT_TRUE(dialled) << dialled.error().message;
      if (!dialled) co_return got;
      Stream stream = *dialled;
      const std::string hello = hello_frame();
      (void)co_await stream->write_frame(hello);
      auto first = co_await next(stream);
      if (first) got.push_back(*first);
      if (connected_midway) *connected_midway = hub_->connected(agent_id_);
      if (!after.empty()) (void)co_await stream->write_frame(after);
      for (;;) {
        auto message = co_await next(stream);
        if (!message) break;
        got.push_back(std::move(*message));
      }
      co_return got;
    }());
  }

  asio::io_context io_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<agents::Trust> trust_;
  std::unique_ptr<transport::agent::AgentHub> hub_;
  std::unique_ptr<AgentListener> listener_;
  std::string address_;
  std::string agent_id_;
  int tokens_ = 0;
};

std::string junk_frame(std::string payload) {
  std::string frame = tls::frame_buffer(payload.size());
  frame += payload;
  tls::seal_frame(frame);
  return frame;
}

TEST_F(AgentLinkTest, AnAdmittedAgentsJunkEndsItsLinkWithTheReason) {
  bool connected = false;
  auto got = exchange(enrolled(), junk_frame("\xff\xff\xff"), &connected);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].has_welcome());
  EXPECT_TRUE(connected) << "the hub did not attach the admitted agent";
  ASSERT_TRUE(got[1].has_goodbye());
  EXPECT_EQ(got[1].goodbye().error_code(), static_cast<int>(ErrorCode::InvalidArgument));
  EXPECT_EQ(got[1].goodbye().message(), "not an AgentMessage");
  EXPECT_FALSE(hub_->connected(agent_id_)) << "the link ended but the hub still holds it";
}

TEST_F(AgentLinkTest, AFrameLongerThanAllowedEndsTheLinkUnread) {
  std::string header = tls::frame_buffer();
  header.resize(tls::kFrameHeaderSize);
  header[0] = '\x7f';  // about 2 GiB claimed, nothing sent
  auto got = exchange(enrolled(), header);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].has_welcome());
  ASSERT_TRUE(got[1].has_goodbye());
  EXPECT_EQ(got[1].goodbye().error_code(), static_cast<int>(ErrorCode::InvalidArgument));
  EXPECT_NE(got[1].goodbye().message().find("at most 67108864"), std::string::npos) << got[1].goodbye().message();
}

TEST_F(AgentLinkTest, AHelloWithoutAClientCertificateIsRefused) {
  auto got = exchange({trust_->ca_pem(), "", ""}, "");
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].has_goodbye());
  EXPECT_EQ(got[0].goodbye().error_code(), static_cast<int>(ErrorCode::Unauthenticated));
  EXPECT_NE(got[0].goodbye().message().find("client certificate"), std::string::npos) << got[0].goodbye().message();
}

TEST_F(AgentLinkTest, ARevokedAgentIsToldSoAndCutOff) {
  auto credentials = enrolled();
  auto revoked = steward::testing::run_until_done(io_, trust_->revoke(agent_id_, "test"));
  ASSERT_TRUE(revoked) << revoked.error().message;
  auto got = exchange(credentials, "");
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].has_goodbye());
  EXPECT_EQ(got[0].goodbye().error_code(), static_cast<int>(ErrorCode::PermissionDenied));
}

}  // namespace
}  // namespace steward::api::agent_rpc
