#include "transport/qga/qga_channel.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <random>

namespace steward::transport::qga {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

namespace {

// qemu-ga caps captured output at 16 MiB per stream; base64 and JSON around
// two of them stay well below this. Anything longer is not a reply.
constexpr std::size_t kMaxReply = 64u << 20;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kKeptCapacity = 1u << 20;

}  // namespace

Channel::Channel(asio::any_io_executor executor, std::string socket_path, std::chrono::milliseconds connect_timeout)
    : executor_(std::move(executor)), socket_path_(std::move(socket_path)), connect_timeout_(connect_timeout) {}

Channel::~Channel() { disconnect(); }

Error Channel::unreachable(const std::string& target, const std::string& what) const {
  return make_error(ErrorCode::Unreachable, fmt::format("{} (qga socket {}): {}", target, socket_path_, what));
}

awaitable<Result<json::value>> Channel::call(const std::string& target, std::string_view command,
                                             json::object arguments, std::chrono::milliseconds timeout) {
  const auto shutting_down = make_error(ErrorCode::Unavailable, "the server is shutting down");
  if (closed_) co_return shutting_down;
  auto turn = co_await turn_.acquire();
  if (closed_) co_return shutting_down;

  json::object request;
  request["execute"] = command;
  if (!arguments.empty()) request["arguments"] = std::move(arguments);
  const std::string line = json::serialize(request) + "\n";

  // A connection that sat idle may have died with the agent; its first
  // write fails at once (the peer is gone), so one fresh retry is safe: the
  // request never reached anyone.
  for (int attempt = 0;; ++attempt) {
    if (socket_ && stale()) {
      spdlog::info("qga {}: connection to {} went stale, reconnecting", target, socket_path_);
      disconnect();
    }
    const bool reused = socket_.has_value();
    if (auto connected = co_await ensure_connected(target, Clock::now() + connect_timeout_); !connected) {
      co_return closed_ ? shutting_down : connected.error();
    }
    auto sent = co_await send(target, line, Clock::now() + timeout);
    if (sent) break;
    disconnect();
    if (closed_) co_return shutting_down;
    if (!reused || attempt > 0) co_return sent.error();
  }

  auto reply = co_await read_line(target, Clock::now() + timeout, false);
  if (!reply) {
    disconnect();
    co_return closed_ ? shutting_down : reply.error();
  }
  if (auto parsed = parse_reply(*reply)) {
    if (parsed->value) co_return std::move(*parsed->value);
    co_return make_error(ErrorCode::Internal,
                         fmt::format("{} (qga socket {}): {} failed: {}", target, socket_path_, command, parsed->error));
  }
  disconnect();  // not the protocol we know: do not trust the stream any further
  co_return make_error(ErrorCode::Internal, fmt::format("{} (qga socket {}): malformed reply to {}: {:.200}", target,
                                                        socket_path_, command, *reply));
}

void Channel::close() {
  closed_ = true;
  if (turn_.locked()) {
    // A request is in flight: closing wakes it, and it cleans up after itself.
    boost::system::error_code ignored;
    if (socket_) socket_->close(ignored);
  } else {
    disconnect();
  }
}

awaitable<Status> Channel::ensure_connected(const std::string& target, Clock::time_point deadline) {
  if (socket_) co_return Status{};
  asio::local::stream_protocol::endpoint endpoint;
  try {
    endpoint = asio::local::stream_protocol::endpoint(socket_path_);
  } catch (const boost::system::system_error& error) {
    co_return make_error(ErrorCode::InvalidArgument,
                         fmt::format("{}: steward_qga_socket is not a usable socket path: {}", target, error.what()));
  }
  socket_.emplace(executor_);
  asio::steady_timer timer(executor_, deadline);
  auto connecting = socket_->async_connect(endpoint, kNoThrow) || timer.async_wait(kNoThrow);
  auto connected = co_await std::move(connecting);
  if (connected.index() == 1) {
    disconnect();
    co_return unreachable(target, "connect timed out");
  }
  if (auto [error] = std::get<0>(connected); error) {
    disconnect();
    if (error == asio::error::connection_refused) co_return unreachable(target, "connection refused (is qemu-ga running?)");
    if (error == boost::system::errc::no_such_file_or_directory) co_return unreachable(target, "no such socket");
    co_return unreachable(target, "cannot connect: " + error.message());
  }
  ++connects_;
  if (auto synced = co_await synchronise(target, deadline); !synced) {
    disconnect();
    co_return synced.error();
  }
  if (auto pinged = co_await ping(target, deadline); !pinged) {
    disconnect();
    co_return pinged.error();
  }
  spdlog::debug("qga {}: connected to {}", target, socket_path_);
  co_return Status{};
}

awaitable<Status> Channel::synchronise(const std::string& target, Clock::time_point deadline) {
  thread_local std::mt19937 random{std::random_device{}()};
  const std::int64_t id = std::uniform_int_distribution<std::int64_t>(1, 0x7fffffff)(random);
  json::object request;
  request["execute"] = "guest-sync-delimited";
  request["arguments"] = json::object{{"id", id}};
  // The leading 0xFF resets qemu-ga's parser (it answers with a parse error,
  // skipped below); the reply we want comes after a 0xFF of its own.
  const std::string line = kDelimiter + json::serialize(request) + "\n";
  auto sent = co_await send(target, line, deadline);
  if (!sent) co_return sent;
  for (;;) {
    auto reply = co_await read_line(target, deadline, true);
    if (!reply) {
      if (reply.error().code == ErrorCode::Unreachable && Clock::now() >= deadline) {
        co_return unreachable(target, "qemu-ga did not answer the handshake (is another client connected?)");
      }
      co_return reply.error();
    }
    boost::system::error_code parse_error;
    json::value parsed = json::parse(*reply, parse_error);
    if (parse_error) continue;
    if (integer_field(parsed, "return") == id) co_return Status{};
    // An answer to someone else's sync: keep looking for ours.
  }
}

// The sync proves the agent reads and answers; guest-ping that it also
// dispatches commands (an agent with guest-ping blocked is of no use either).
awaitable<Status> Channel::ping(const std::string& target, Clock::time_point deadline) {
  const std::string line = "{\"execute\": \"guest-ping\"}\n";
  auto sent = co_await send(target, line, deadline);
  if (!sent) co_return sent;
  auto reply = co_await read_line(target, deadline, false);
  if (!reply) co_return reply.error();
  boost::system::error_code parse_error;
  json::value parsed = json::parse(*reply, parse_error);
  if (!parse_error && parsed.is_object() && parsed.as_object().contains("return")) co_return Status{};
  co_return unreachable(target, fmt::format("guest-ping failed: {:.200}", *reply));
}

awaitable<Status> Channel::send(const std::string& target, const std::string& line, Clock::time_point deadline) {
  asio::steady_timer timer(executor_, deadline);
  auto writing = asio::async_write(*socket_, asio::buffer(line), kNoThrow) || timer.async_wait(kNoThrow);
  auto written = co_await std::move(writing);
  if (written.index() == 1) co_return unreachable(target, "sending a request timed out");
  if (auto [error, ignored] = std::get<0>(written); error) co_return unreachable(target, "connection lost: " + error.message());
  co_return Status{};
}

awaitable<Result<std::string>> Channel::read_line(const std::string& target, Clock::time_point deadline,
                                                  bool after_delimiter) {
  LineScan scan{!after_delimiter, 0};
  for (;;) {
    if (auto line = take_line(buffer_, scan)) {
      if (buffer_.empty() && buffer_.capacity() > kKeptCapacity) std::string().swap(buffer_);  // after a big reply
      co_return std::move(*line);
    }
    if (scan.delimited && buffer_.size() > kMaxReply) co_return unreachable(target, "reply larger than 64 MiB");
    auto got = co_await read_some(target, deadline);
    if (!got) co_return got.error();
  }
}

awaitable<Result<std::size_t>> Channel::read_some(const std::string& target, Clock::time_point deadline) {
  const std::size_t kept = buffer_.size();
  buffer_.resize(kept + kReadChunk);
  asio::steady_timer timer(executor_, deadline);
  auto reading = socket_->async_read_some(asio::buffer(buffer_.data() + kept, kReadChunk), kNoThrow) ||
                 timer.async_wait(kNoThrow);
  auto read = co_await std::move(reading);
  if (read.index() == 1) {
    buffer_.resize(kept);
    co_return unreachable(target, "timed out waiting for qemu-ga's reply");
  }
  auto [error, count] = std::get<0>(read);
  buffer_.resize(kept + count);
  if (error == asio::error::eof) co_return unreachable(target, "connection lost (qemu-ga closed it)");
  if (error) co_return unreachable(target, "connection lost: " + error.message());
  co_return count;
}

bool Channel::stale() {
  if (!buffer_.empty()) return true;
  ::pollfd poll_fd{socket_->native_handle(), POLLIN, 0};
  return ::poll(&poll_fd, 1, 0) > 0;
}

void Channel::disconnect() {
  if (socket_) {
    boost::system::error_code ignored;
    socket_->close(ignored);
    socket_.reset();
  }
  buffer_.clear();
}

}  // namespace steward::transport::qga
