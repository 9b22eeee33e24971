// The qga channel (socket and protocol) and the transport's helpers.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <regex>
#include <thread>

#include "support/run_sync.hpp"
#include "transport/qemu_ga.hpp"
#include "transport/qga/base64.hpp"
#include "transport/qga/guest_exec.hpp"
#include "transport/qga/qga_channel.hpp"

namespace steward::transport {
namespace {

namespace asio = boost::asio;
using namespace qga_testing;
using steward::testing::run_sync;

class QgaChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kQemuGa)) << "install qemu-guest-agent";
    dir_ = fs::temp_directory_path() / ("steward-qga-channel-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    agent_ = std::make_unique<QemuGa>(dir_);
    agent_->start();
  }
  void TearDown() override {
    agent_.reset();
    fs::remove_all(dir_);
  }

  asio::io_context io_;
  fs::path dir_;
  std::unique_ptr<QemuGa> agent_;
};

TEST_F(QgaChannelTest, KeepsOneConnectionAndReconnectsOnlyWhenBroken) {
  qga::Channel channel(io_.get_executor(), agent_->socket());
  auto ping = [&] { return run_sync(io_, channel.call("vm1", "guest-ping", {})); };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ping().ok());
  EXPECT_EQ(channel.connects(), 1);
  agent_->stop();
  agent_->start();
  auto after = ping();
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(channel.connects(), 2);
}

TEST_F(QgaChannelTest, TurnsAnErrorReplyIntoInternalWithItsDescription) {
  qga::Channel channel(io_.get_executor(), agent_->socket());
  auto reply = run_sync(io_, channel.call("vm1", "guest-no-such-command", {}));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, ErrorCode::Internal);
  EXPECT_NE(reply.error().message.find("has not been found"), std::string::npos) << reply.error().message;
  // The connection stays usable after an error reply.
  EXPECT_TRUE(run_sync(io_, channel.call("vm1", "guest-ping", {})).ok());
  EXPECT_EQ(channel.connects(), 1);
}

TEST_F(QgaChannelTest, AnotherClientHoldingTheAgentMakesTheHandshakeTimeOut) {
  // qemu-ga serves one client at a time: while this one holds it, ours waits.
  int holder = connect_unix(agent_->socket());
  ASSERT_GE(holder, 0);
  std::this_thread::sleep_for(100ms);
  qga::Channel channel(io_.get_executor(), agent_->socket(), 1s);
  auto reply = run_sync(io_, channel.call("vm1", "guest-ping", {}));
  ::close(holder);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, ErrorCode::Unreachable);
  EXPECT_NE(reply.error().message.find("handshake"), std::string::npos) << reply.error().message;
}

// An agent that completes the handshake, then never answers: the request
// must time out, and the connection must go (its late reply would be read
// as the answer to the next request).
TEST(QgaChannel, ARequestWithoutAReplyTimesOutAndDropsTheConnection) {
  const auto socket_path = fs::temp_directory_path() / ("steward-qga-mute-" + std::to_string(::getpid()) + ".sock");
  fs::remove(socket_path);
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  std::atomic<bool> client_closed = false;
  std::thread mute_agent([&] {
    int client = ::accept(listener, nullptr, nullptr);
    std::string received;
    char buffer[4096];
    auto next_line = [&]() -> std::string {
      for (;;) {
        if (auto newline = received.find('\n'); newline != std::string::npos) {
          std::string line = received.substr(0, newline);
          received.erase(0, newline + 1);
          return line;
        }
        ssize_t got = ::read(client, buffer, sizeof buffer);
        if (got <= 0) return {};
        received.append(buffer, static_cast<std::size_t>(got));
      }
    };
    std::smatch id;
    std::string sync = next_line();
    if (std::regex_search(sync, id, std::regex("\"id\":([0-9]+)"))) {
      std::string reply = "\xff{\"return\": " + id[1].str() + "}\n";
      (void)::write(client, reply.data(), reply.size());
    }
    next_line();  // guest-ping
    (void)::write(client, "{\"return\": {}}\n", 15);
    next_line();  // the request, left unanswered
    client_closed = ::read(client, buffer, sizeof buffer) == 0;
    ::close(client);
  });

  asio::io_context io;
  qga::Channel channel(io.get_executor(), socket_path.string());
  const auto started = std::chrono::steady_clock::now();
  auto reply = run_sync(io, channel.call("vm1", "guest-info", {}, 300ms));
  const auto took = std::chrono::steady_clock::now() - started;
  mute_agent.join();
  ::close(listener);
  fs::remove(socket_path);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, ErrorCode::Unreachable);
  EXPECT_NE(reply.error().message.find("timed out"), std::string::npos) << reply.error().message;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  EXPECT_FALSE(channel.connected());
  EXPECT_TRUE(client_closed);
}

// ---------------------------------------------------------------- helpers

TEST(QgaBase64, RoundTripsEveryLengthAndRejectsGarbage) {
  std::string bytes;
  for (int length = 0; length < 70; ++length) {
    auto text = qga::base64_encode(bytes);
    EXPECT_EQ(text.size() % 4, 0u);
    EXPECT_EQ(qga::base64_decode(text), bytes) << length;
    bytes.push_back(static_cast<char>(length * 37));
  }
  EXPECT_EQ(qga::base64_encode("hello"), "aGVsbG8=");
  EXPECT_EQ(qga::base64_decode("aGVsbG8="), "hello");
  EXPECT_FALSE(qga::base64_decode("aGVsbG8").has_value());
  EXPECT_FALSE(qga::base64_decode("aGV$bG8=").has_value());
  EXPECT_FALSE(qga::base64_decode("a=Vs").has_value());
}

TEST(QgaGuestCommand, StartsUnderSetsidAndRejectsBadEnvironmentNames) {
  ExecRequest request;
  request.command = "echo hi";
  auto command = qga::guest_command(request);
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->path, "setsid");
  EXPECT_EQ(command->args.back(), "echo hi");
  request.env = {{"A;rm -rf /", "x"}};
  command = qga::guest_command(request);
  ASSERT_FALSE(command.ok());
  EXPECT_EQ(command.error().code, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace steward::transport
