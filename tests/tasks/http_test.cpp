// `request` tasks against a tiny HTTP server on 127.0.0.1: GET /status/N
// answers N with the request head as the body; /slow/N answers after 3 s.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "task_test_support.hpp"

namespace steward::tasks::test {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

class TestHttpServer {
 public:
  TestHttpServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestHttpServer() {
    io_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto accepting = acceptor_.async_accept(asio::use_awaitable);
      tcp::socket socket = co_await std::move(accepting);
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }

  static asio::awaitable<void> serve(tcp::socket socket) {
    std::string head;
    auto reading = asio::async_read_until(socket, asio::dynamic_buffer(head), "\r\n\r\n", asio::use_awaitable);
    std::size_t n = co_await std::move(reading);
    head.resize(n);
    auto path = head.substr(head.find(' ') + 1);
    path = path.substr(0, path.find(' '));
    if (path.rfind("/slow/", 0) == 0) {
      asio::steady_timer timer(socket.get_executor(), std::chrono::seconds(3));
      auto waiting = timer.async_wait(asio::use_awaitable);
      co_await std::move(waiting);
    }
    std::string status = path.substr(path.rfind('/') + 1);
    std::string response = "HTTP/1.1 " + status + " Test\r\nContent-Length: " + std::to_string(head.size()) +
                           "\r\nConnection: close\r\n\r\n" + head;
    auto writing = asio::async_write(socket, asio::buffer(response), asio::use_awaitable);
    co_await std::move(writing);
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

std::string request_task(const std::string& url, const std::string& extra = "") {
  return "    - request: {url: '" + url + "'" + extra + "}\n";
}

TEST(HttpTask, StatusInsideAndOutsideDefaultSuccessCodes) {
  TestHttpServer server;
  auto record = run_pipeline("exec:\n  start:\n" + request_task(server.url("/status/204")) +
                             "  post:\n" + request_task(server.url("/status/500")));
  const auto& ok = task_of(record, "start", 0);
  EXPECT_EQ(str(ok.at("status")), "ok");
  EXPECT_EQ(ok.at("http_status").as_int64(), 204);
  const auto& failed = task_of(record, "post", 0);
  EXPECT_EQ(str(failed.at("status")), "failed");
  EXPECT_EQ(failed.at("http_status").as_int64(), 500);
  EXPECT_NE(str(failed.at("error")).find("500"), std::string::npos);
}

TEST(HttpTask, RangeStringAndListOfCodes) {
  TestHttpServer server;
  auto record = run_pipeline("exec:\n  post:\n" +
                             request_task(server.url("/status/404"), ", success_codes: '400-404'") +
                             request_task(server.url("/status/200"), ", success_codes: '400-404'") +
                             request_task(server.url("/status/302"), ", success_codes: [201, '300-302']"));
  EXPECT_EQ(str(task_of(record, "post", 0).at("status")), "ok");
  EXPECT_EQ(str(task_of(record, "post", 1).at("status")), "failed");
  EXPECT_EQ(task_of(record, "post", 1).at("http_status").as_int64(), 200);
  EXPECT_EQ(str(task_of(record, "post", 2).at("status")), "ok");
}

TEST(HttpTask, MethodHeadersAndBodyAreSent) {
  TestHttpServer server;
  auto record = run_pipeline("exec:\n  start:\n    - notify: true\n      request:\n        method: put\n"
                             "        url: '" + server.url("/status/201") + "'\n"
                             "        data: {x: 1}\n        headers: {X-Probe: yes}\n");
  const auto& task = task_of(record, "start", 0);
  EXPECT_EQ(str(task.at("status")), "ok");
  std::string echoed = str(task.at("stdout"));
  EXPECT_EQ(echoed.rfind("PUT /status/201 HTTP/1.1", 0), 0u) << echoed;
  EXPECT_NE(echoed.find("Content-Type: application/json"), std::string::npos) << echoed;
  EXPECT_NE(echoed.find("X-Probe: yes"), std::string::npos) << echoed;
}

TEST(HttpTask, HttpTimeoutExpires) {
  TestHttpServer server;
  auto started = std::chrono::steady_clock::now();
  auto record = run_pipeline("exec:\n  start:\n" + request_task(server.url("/slow/200"), ", http_timeout: 0.3"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  const auto& task = task_of(record, "start", 0);
  EXPECT_EQ(str(task.at("status")), "failed");
  EXPECT_NE(str(task.at("error")).find("timed out"), std::string::npos) << task;
  EXPECT_EQ(str(record.at("state")), "failed");
}

TEST(HttpTask, CancelAbortsARequestInFlight) {
  TestHttpServer server;
  asio::io_context io;  // outlives the runner, whose timers it serves
  auto runner = PipelineRunner::create(
      pipeline_from("exec:\n  start:\n" + request_task(server.url("/slow/200"), ", http_timeout: 10")),
      fast_options());
  asio::steady_timer timer(io, 200ms);
  timer.async_wait([&](auto) { runner->cancel("enough"); });
  auto started = std::chrono::steady_clock::now();
  auto record = steward::testing::run_sync(io, runner->run(0ms));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2500ms);  // the server answers only after 3 s
  EXPECT_EQ(str(record.at("state")), "cancelled");
  EXPECT_EQ(str(task_of(record, "start", 0).at("status")), "terminated");
}

TEST(HttpTask, ConnectionRefusedFails) {
  std::string url;
  {
    TestHttpServer server;  // a port that was just free and is closed again
    url = server.url("/status/200");
  }
  auto record = run_pipeline("exec:\n  start:\n" + request_task(url));
  EXPECT_EQ(str(task_of(record, "start", 0).at("status")), "failed");
  EXPECT_FALSE(task_of(record, "start", 0).contains("http_status"));
}

}  // namespace
}  // namespace steward::tasks::test
