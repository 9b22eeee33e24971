// FrameStream over a real loopback TCP connection and real TLS: frames
// arrive whole and in order whatever their size, both directions flow at
// once, a frame longer than the reader allows is refused before it is read,
// and a peer that ends mid-frame ends the read with Unreachable.
#include "tls/frame_stream.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>
#include <memory>

#include "support/run_sync.hpp"
#include "support/test_dir.hpp"
#include "tls/authority.hpp"
#include "tls/identity.hpp"
#include "tls/link_context.hpp"
#include "tls/self_signed.hpp"

namespace steward::tls {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using Stream = std::shared_ptr<FrameStream>;

std::string framed(std::string payload) {
  std::string frame = frame_buffer(payload.size());
  frame += payload;
  seal_frame(frame);
  return frame;
}

std::string pattern(std::size_t size, char seed) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>(seed + i % 251);
  return text;
}

class FrameStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = steward::testing::fresh_test_dir("frame-stream");
    auto authority = Authority::open_or_create((dir_ / "ca").string(), "frame stream test CA");
    ASSERT_TRUE(authority) << authority.error().message;
    auto identity = authority->ensure_server_identity("server", {"link-test", {"link-test"}, {}},
                                                      std::chrono::hours(24), std::chrono::hours(1));
    ASSERT_TRUE(identity) << identity.error().message;
    auto server = make_link_server_context(*identity, authority->certificate_pem());
    auto client = make_link_client_context(authority->certificate_pem(), "", "");
    ASSERT_TRUE(server && client);
    server_context_ = *server;
    client_context_ = *client;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Both ends of one link, through the TLS handshake.
  asio::awaitable<std::pair<Stream, Stream>> connected_pair() {
    auto executor = co_await asio::this_coro::executor;
    tcp::acceptor acceptor(executor, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket dialled(executor);
    co_await dialled.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
    auto accepted = co_await acceptor.async_accept(asio::use_awaitable);
    auto client = std::make_shared<FrameStream>(std::move(dialled), client_context_.get(), TlsRole::Client);
    auto server = std::make_shared<FrameStream>(std::move(accepted), server_context_.get(), TlsRole::Server);
    SSL_set1_host(client->session(), "link-test");
    auto [client_shaken, server_shaken] = co_await (client->handshake() && server->handshake());
    EXPECT_TRUE(client_shaken) << client_shaken.error().message;
    EXPECT_TRUE(server_shaken) << server_shaken.error().message;
    co_return std::make_pair(client, server);
  }

  std::filesystem::path dir_;
  LinkContext server_context_;
  LinkContext client_context_;
};

TEST_F(FrameStreamTest, FramesOfEverySizeArriveWholeAndInOrder) {
  const std::vector<std::string> sent{"hello", "", pattern(70000, 'a'), pattern(5 << 20, 'b'), "last"};
  auto received = steward::testing::run_sync([&]() -> asio::awaitable<std::vector<std::string>> {
    auto [client, server] = co_await connected_pair();
    EXPECT_TRUE(verified_peer_certificate(server->session()).empty()) << "the client presented no certificate";
    auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, [client = client, &sent]() -> asio::awaitable<void> {
      for (const auto& payload : sent) {
        const std::string frame = framed(payload);
        auto written = co_await client->write_frame(frame);
        EXPECT_TRUE(written);
      }
    }, asio::detached);
    std::vector<std::string> got;
    for (std::size_t i = 0; i < sent.size(); ++i) {
      auto frame = co_await server->read_frame(8 << 20);
      if (!frame) {
        ADD_FAILURE() << frame.error().message;
        break;
      }
      got.push_back(std::move(*frame));
    }
    co_return got;
  }());
  ASSERT_EQ(received.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_TRUE(received[i] == sent[i]) << "frame " << i << " differs";
}

TEST_F(FrameStreamTest, BothEndsWriteMoreThanTheSocketsHoldAtOnce) {
  // Each side writes 16 MiB while reading the other's: a reader that
  // blocked the writer (or the reverse) would never finish.
  constexpr int kFrames = 64;
  const std::string payload = pattern(256 << 10, 'c');
  int at_server = 0;
  int at_client = 0;
  auto counted = [&payload](Stream reader, int& count) -> asio::awaitable<void> {
    for (int i = 0; i < kFrames; ++i) {
      auto frame = co_await reader->read_frame(1 << 20);
      if (!frame || *frame != payload) co_return;
      ++count;
    }
  };
  steward::testing::run_sync([&]() -> asio::awaitable<bool> {
    auto [client, server] = co_await connected_pair();
    auto executor = co_await asio::this_coro::executor;
    for (const auto& writer : {client, server})
      asio::co_spawn(executor, [writer, &payload]() -> asio::awaitable<void> {
        const std::string frame = framed(payload);
        for (int i = 0; i < kFrames; ++i) {
          auto written = co_await writer->write_frame(frame);
          if (!written) co_return;
        }
      }, asio::detached);
    asio::co_spawn(executor, counted(client, at_client), asio::detached);
    asio::co_spawn(executor, counted(server, at_server), asio::detached);
    co_return true;
  }());  // returns once every coroutine has
  EXPECT_EQ(at_server, kFrames);
  EXPECT_EQ(at_client, kFrames);
}

TEST_F(FrameStreamTest, AFrameLongerThanAllowedIsRefusedUnread) {
  auto refused = steward::testing::run_sync([&]() -> asio::awaitable<Result<std::string>> {
    auto [client, server] = co_await connected_pair();
    const std::string frame = framed(pattern(4096, 'd'));
    auto written = co_await client->write_frame(frame);
    EXPECT_TRUE(written);
    auto read = co_await server->read_frame(1024);
    co_return read;
  }());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(refused.error().message.find("4096 bytes (at most 1024)"), std::string::npos) << refused.error().message;
}

TEST_F(FrameStreamTest, APeerThatEndsMidFrameEndsTheRead) {
  auto cut = steward::testing::run_sync([&]() -> asio::awaitable<Result<std::string>> {
    auto [client, server] = co_await connected_pair();
    std::string frame = framed(pattern(1000, 'e'));
    frame.resize(500);  // the header promises 1,000 bytes
    auto written = co_await client->write_frame(frame);
    EXPECT_TRUE(written);
    client->shutdown();
    auto read = co_await server->read_frame(1 << 20);
    co_return read;
  }());
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, ErrorCode::Unreachable) << cut.error().message;
}

TEST_F(FrameStreamTest, ACloseEndsAWaitingReadAndLaterCallsFailAtOnce) {
  auto ended = steward::testing::run_sync([&]() -> asio::awaitable<std::pair<Result<std::string>, Status>> {
    auto [client, server] = co_await connected_pair();
    auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, [server = server]() -> asio::awaitable<void> {
      server->close();  // while the read below waits
      co_return;
    }, asio::detached);
    auto read = co_await server->read_frame(1024);
    const std::string frame = framed("late");
    auto written = co_await server->write_frame(frame);
    co_return std::make_pair(std::move(read), written);
  }());
  ASSERT_FALSE(ended.first);
  EXPECT_EQ(ended.first.error().code, ErrorCode::Unreachable);
  EXPECT_FALSE(ended.second);
}

TEST_F(FrameStreamTest, AnOutboxWritesInOrderUntilFinishedAndStopsWhenDropped) {
  auto got = steward::testing::run_sync([&]() -> asio::awaitable<std::vector<std::string>> {
    auto [client, server] = co_await connected_pair();
    auto executor = co_await asio::this_coro::executor;
    FrameOutbox outbox(executor);
    outbox.push(framed("one"));
    outbox.push(framed("two"));
    Status finished = make_error(ErrorCode::Internal, "not yet");
    asio::co_spawn(executor, [&outbox, &finished, client = client]() -> asio::awaitable<void> {
      finished = co_await outbox.write_to(*client);
    }, asio::detached);
    std::vector<std::string> frames;
    auto first = co_await server->read_frame(1024);
    frames.push_back(first ? *first : first.error().message);
    outbox.push(framed("three"));  // while the writer waits or writes
    outbox.finish();
    outbox.push(framed("late"));   // not taken once finishing
    for (int i = 0; i < 2; ++i) {
      auto next = co_await server->read_frame(1024);
      frames.push_back(next ? *next : next.error().message);
    }
    EXPECT_TRUE(finished) << "the writer did not end after the last frame";

    FrameOutbox dropped(executor);
    Status ended;
    asio::co_spawn(executor, [&dropped, &ended, client = client]() -> asio::awaitable<void> {
      ended = co_await dropped.write_to(*client);
    }, asio::detached);
    dropped.drop();
    asio::steady_timer settle(executor, std::chrono::milliseconds(50));
    co_await settle.async_wait(asio::use_awaitable);
    EXPECT_FALSE(ended);
    if (!ended) {
      EXPECT_EQ(ended.error().code, ErrorCode::Cancelled);
    }
    co_return frames;
  }());
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "three"}));
}

}  // namespace
}  // namespace steward::tls
