#include "core/tcp_connect.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace steward {
namespace {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
}  // namespace

asio::awaitable<Result<asio::ip::tcp::socket>> connect_tcp(std::string host, int port,
                                                           std::chrono::steady_clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  asio::steady_timer timer(executor, deadline);
  auto resolved = co_await (resolver.async_resolve(host, std::to_string(port), kNoThrow) || timer.async_wait(kNoThrow));
  if (resolved.index() == 1) co_return make_error(ErrorCode::Unreachable, "name resolution timed out");
  auto [resolve_error, endpoints] = std::get<0>(resolved);
  if (resolve_error) co_return make_error(ErrorCode::Unreachable, "cannot resolve host: " + resolve_error.message());

  asio::ip::tcp::socket socket(executor);
  auto connected = co_await (asio::async_connect(socket, endpoints, kNoThrow) || timer.async_wait(kNoThrow));
  if (connected.index() == 1) co_return make_error(ErrorCode::Unreachable, "connect timed out");
  if (auto [error, ignored] = std::get<0>(connected); error) {
    co_return make_error(ErrorCode::Unreachable, "connect failed: " + error.message());
  }
  socket.set_option(asio::ip::tcp::no_delay(true));
  co_return std::move(socket);
}

}  // namespace steward
