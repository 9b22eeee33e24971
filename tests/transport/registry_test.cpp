#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "core/cancel.hpp"
#include "fakes/fake_transport.hpp"
#include "transport/local/local_transport.hpp"
#include "transport/transport.hpp"

namespace steward::transport {
namespace {

TEST(TransportRegistryTest, RefusesADuplicateNameAndKeepsTheFirst) {
  TransportRegistry registry;
  auto first = make_local_transport();
  ASSERT_TRUE(registry.add("local", first).ok());
  auto again = registry.add("local", make_local_transport());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_EQ(again.error().message, "connection type 'local' is registered twice");
  ASSERT_TRUE(registry.get("local").ok());
  ASSERT_EQ(registry.metrics().size(), 1u);
  EXPECT_EQ(registry.metrics()[0].transport, "local");
}

// Reports what it was built with, so a test can tell which one the registry holds.
class PooledTransport final : public Transport {
 public:
  explicit PooledTransport(std::size_t open) : open_(open) {}
  boost::asio::awaitable<Result<FileOutcome>> put_file(const Target&, FileRequest, CancelToken) override {
    co_return FileOutcome{};
  }
  boost::asio::awaitable<Result<FileOutcome>> get_file(const Target&, FileRequest, CancelToken) override {
    co_return FileOutcome{};
  }
  boost::asio::awaitable<Result<ExecOutcome>> run(const Target&, ExecRequest, ChunkSink, CancelToken) override {
    co_return ExecOutcome{};
  }
  ConnectionStats connection_stats() const override { return {open_, 1}; }

 private:
  std::size_t open_;
};

TEST(TransportRegistryTest, TheFirstTransportsConnectionsAreReported) {
  TransportRegistry registry;
  ASSERT_TRUE(registry.add("pooled", std::make_shared<PooledTransport>(3)).ok());
  ASSERT_FALSE(registry.add("pooled", std::make_shared<PooledTransport>(7)).ok());
  auto found = registry.get("pooled");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)->connection_stats().open, 3u);
  ASSERT_EQ(registry.metrics().size(), 1u);
  EXPECT_EQ(registry.metrics()[0].connections.open, 3u);
  EXPECT_EQ(registry.metrics()[0].connections.pool_size, 1u);
}

TEST(TransportRegistryTest, CountsCallsInFlightEndedAndFailedByKind) {
  boost::asio::io_context io;
  auto fake = std::make_shared<testing::FakeTransport>();
  fake->script("down", testing::FakeScript::fails(ErrorCode::Unreachable, "down is down"));
  fake->script("slow", testing::FakeScript::hangs());
  fake->script("exits", testing::FakeScript::exits(3));
  TransportRegistry registry;
  ASSERT_TRUE(registry.add("fake", fake).ok());
  auto transport = *registry.get("fake");
  auto counts = [&] { return registry.metrics().at(0).counts; };

  auto cancel = make_cancel_token();
  auto run_on = [&](std::string name, CancelToken token) {
    boost::asio::co_spawn(io, [transport, name, token]() -> boost::asio::awaitable<void> {
      Target target;
      target.name = name;
      auto running = transport->run(target, ExecRequest{}, {}, token);
      co_await std::move(running);
    }, boost::asio::detached);
  };
  run_on("down", nullptr);
  run_on("exits", nullptr);
  run_on("slow", cancel);
  run_on("down", nullptr);
  io.poll();
  EXPECT_EQ(counts().in_flight, 1u);  // the slow one
  EXPECT_EQ(counts().operations, 3u);
  cancel->cancel("test over");
  io.poll();
  const auto ended = counts();
  EXPECT_EQ(ended.in_flight, 0u);
  EXPECT_EQ(ended.operations, 4u);
  // A command that exits non-zero or is cancelled ran: only the unreachable ones are errors.
  ASSERT_EQ(ended.errors.size(), 1u);
  EXPECT_EQ(ended.errors.at(ErrorCode::Unreachable), 2u);
  EXPECT_EQ(fake->calls().size(), 4u);
}

TEST(TransportRegistryTest, BuiltinsRegisterOnce) {
  TransportRegistry registry;
  ASSERT_TRUE(register_builtin_transports(registry, {}).ok());
  EXPECT_FALSE(register_builtin_transports(registry, {}).ok());
}

}  // namespace
}  // namespace steward::transport
