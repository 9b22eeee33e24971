#include "api/http/job_stream.hpp"

#include <chrono>
#include <string>

#include "api/http/exchange.hpp"

namespace steward::api::http {
namespace {

constexpr std::chrono::seconds kPeerCheck{1};
constexpr std::chrono::seconds kHeartbeatPeriod{5};

}  // namespace

boost::asio::awaitable<std::optional<jobs::JobEvent>> next_while_connected(jobs::Subscription& subscription,
                                                                           Exchange& exchange, Heartbeat heartbeat) {
  static const std::string kSseComment = ": keepalive\n\n";
  auto quiet_since = std::chrono::steady_clock::now();
  for (;;) {
    const bool ready = co_await subscription.wait_ready(kPeerCheck);
    if (ready) {
      auto event = co_await subscription.next();
      co_return event;
    }
    if (!exchange.peer_connected()) co_return std::nullopt;
    const auto now = std::chrono::steady_clock::now();
    if (heartbeat == Heartbeat::SseComment && now - quiet_since >= kHeartbeatPeriod) {
      const bool written = co_await exchange.write_chunk(kSseComment);
      if (!written) co_return std::nullopt;
      quiet_since = now;
    }
  }
}

}  // namespace steward::api::http
