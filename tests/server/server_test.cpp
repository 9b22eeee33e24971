#include "server/server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "cli/http_client.hpp"
#include "core/clock.hpp"
#include "support/test_dir.hpp"

namespace steward {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kLoopLimit = 60s;

#if defined(__SANITIZE_THREAD__)
// Debian's libgrpc is not built with TSan: its threads' synchronization is invisible to it.
constexpr const char* kGrpc = "off";
#else
constexpr const char* kGrpc = "127.0.0.1:0";
#endif

// Runs the servers' event loop on a thread of its own, as `steward serve`
// does on its main one; the test thread talks to them over HTTP like a
// client. Declared after the servers: its destructor stops and joins the
// loop before they are destroyed, as serve() does.
class LoopThread {
 public:
  explicit LoopThread(asio::io_context& io) : io_(io), work_(asio::make_work_guard(io)), thread_([&io] { io.run(); }) {}
  ~LoopThread() {
    io_.stop();
    thread_.join();
  }

  // Runs `task` on the loop and waits for its result (at most kLoopLimit).
  template <typename T>
  std::optional<T> run(std::function<asio::awaitable<T>()> task) {
    auto promise = std::make_shared<std::promise<T>>();
    auto result = promise->get_future();
    asio::co_spawn(io_, std::move(task), [promise](std::exception_ptr failure, T value) {
      if (failure) promise->set_exception(failure);
      else promise->set_value(std::move(value));
    });
    if (result.wait_for(kLoopLimit) != std::future_status::ready) return std::nullopt;
    return result.get();
  }

 private:
  asio::io_context& io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

ServeSettings settings_in(const fs::path& data_dir) {
  ServeSettings settings;
  settings.http = "127.0.0.1:0";
  settings.grpc = kGrpc;
  settings.data_dir = data_dir.string();
  return settings;
}

std::string read_line(const fs::path& path) {
  std::string line;
  std::ifstream in(path);
  std::getline(in, line);
  return line;
}

cli::HttpClient client_of(const Server& server, const fs::path& data_dir) {
  auto address = cli::parse_server_url(server.http_url());
  EXPECT_TRUE(address) << address.error().message;
  address->token = read_line(data_dir / "token");
  return cli::HttpClient(*address, tls::ClientTrust{});
}

// Submits `ping` of localhost, follows the job to its end, and reads it.
boost::json::object ping_job(cli::HttpClient& client, std::string& jid) {
  auto submitted = client.request("POST", "/ping", R"({"targets": ["localhost"]})");
  EXPECT_TRUE(submitted) << submitted.error().message;
  if (!submitted) return {};
  EXPECT_EQ(submitted->status, 201) << submitted->body;
  jid = std::string(boost::json::parse(submitted->body).at("jid").as_string());
  auto followed = client.stream_lines("/jobs/" + jid + "?follow=1", [](const std::string&) {});
  EXPECT_TRUE(followed) << followed.error().message;
  auto job = client.request("GET", "/jobs/" + jid);
  EXPECT_TRUE(job) << job.error().message;
  if (!job) return {};
  return boost::json::parse(job->body).as_object();
}

TEST(Server, TwoServersInOneProcessEachRunAJobAndStopCleanly) {
  const fs::path root = steward::testing::fresh_test_dir("server");
  const fs::path dirs[] = {root / "a", root / "b"};
  SystemClock clock;
  {
    asio::io_context io(1);
    std::vector<std::unique_ptr<Server>> servers;
    for (const auto& dir : dirs) servers.push_back(std::make_unique<Server>(settings_in(dir), clock, io.get_executor()));
    LoopThread loop(io);
    for (auto& server : servers) {
      auto started = loop.run<Status>([&] { return server->start(); });
      ASSERT_TRUE(started) << "start() did not finish";
      ASSERT_TRUE(*started) << started->error().message;
    }
    EXPECT_NE(servers[0]->http_port(), servers[1]->http_port());
    EXPECT_GT(servers[0]->http_port(), 0);
    EXPECT_NE(servers[0]->server_id(), servers[1]->server_id());
    EXPECT_EQ(read_line(dirs[0] / "server-id"), servers[0]->server_id());
    if (std::string(kGrpc) != "off") {
      EXPECT_NE(servers[0]->grpc_port(), servers[1]->grpc_port());
    }

    std::vector<std::string> jids(2);
    for (std::size_t i = 0; i < servers.size(); ++i) {
      auto client = client_of(*servers[i], dirs[i]);
      auto job = ping_job(client, jids[i]);
      ASSERT_TRUE(job.contains("state")) << boost::json::serialize(job);
      EXPECT_EQ(job.at("state").as_int64(), 0) << boost::json::serialize(job);  // Done
      EXPECT_EQ(job.at("return_data").at("localhost").at("status").as_int64(), 1);  // Ok
    }
    // Each job lives in its own server's store only.
    auto other = client_of(*servers[1], dirs[1]);
    auto elsewhere = other.request("GET", "/jobs/" + jids[0]);
    ASSERT_TRUE(elsewhere);
    EXPECT_EQ(elsewhere->status, 404);

    for (auto& server : servers) {
      auto stopped = loop.run<bool>([&]() -> asio::awaitable<bool> {
        co_await server->stop();
        co_return true;
      });
      ASSERT_TRUE(stopped) << "stop() did not finish";
    }
    EXPECT_FALSE(fs::exists(dirs[0] / "http.addr"));
    EXPECT_FALSE(client_of(*servers[0], dirs[0]).request("GET", "/healthz")) << "still answering after stop()";
  }
  fs::remove_all(root);
}

TEST(Server, StartSaysWhichPortIsInUseAndLeavesNothingListening) {
  const fs::path root = steward::testing::fresh_test_dir("server");
  SystemClock clock;
  {
    asio::io_context io(1);
    auto settings = settings_in(root / "first");
    settings.server_id = "first";
    Server first(settings, clock, io.get_executor());
    // Its port is known once `first` has started.
    auto taken = settings_in(root / "second");
    std::optional<Server> second;
    auto bad_id = settings_in(root / "third");
    bad_id.server_id = "no spaces";
    Server third(bad_id, clock, io.get_executor());
    LoopThread loop(io);

    auto started = loop.run<Status>([&] { return first.start(); });
    ASSERT_TRUE(started && *started);
    EXPECT_EQ(first.server_id(), "first");
    taken.http = "127.0.0.1:" + std::to_string(first.http_port());
    second.emplace(taken, clock, io.get_executor());
    auto refused = loop.run<Status>([&] { return second->start(); });
    ASSERT_TRUE(refused);
    ASSERT_FALSE(*refused);
    EXPECT_NE(refused->error().message.find("cannot listen on " + taken.http), std::string::npos)
        << refused->error().message;
    if (std::string(kGrpc) != "off") {
      EXPECT_FALSE(fs::exists(root / "second" / "grpc.addr"));
    }

    auto invalid = loop.run<Status>([&] { return third.start(); });
    ASSERT_TRUE(invalid);
    ASSERT_FALSE(*invalid);
    EXPECT_EQ(invalid->error().code, ErrorCode::InvalidArgument);

    auto stopped = loop.run<bool>([&]() -> asio::awaitable<bool> {
      co_await first.stop();
      co_return true;
    });
    ASSERT_TRUE(stopped);
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace steward
