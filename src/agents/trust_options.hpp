#pragma once
// What open_trust takes beyond the data dir and the store: tests set the
// time; the defaults are the server's.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "agents/trust.hpp"

namespace steward::agents {

struct TrustOptions {
  std::function<double()> now;  // Unix seconds; unix_now when unset
  // Enrolments without a token that may wait for approval at once: anyone who
  // reaches the agent listener can ask, so their number is bounded.
  std::size_t max_pending = 1000;
  // ... and the ones that stopped asking are forgotten after this long (at
  // start and at the listener's daily upkeep).
  std::chrono::seconds forget_pending_after{std::chrono::hours(24 * 7)};
  std::chrono::seconds retry_after{10};
  std::chrono::seconds client_certificate_validity{std::chrono::hours(24 * 365)};
  // The listener's certificate is reissued (at open and by the listener's
  // daily upkeep) when it ends within this.
  std::chrono::seconds renew_server_within{std::chrono::hours(24 * 30)};
};

boost::asio::awaitable<Result<std::unique_ptr<Trust>>> open_trust(const std::string& data_dir, store::Store& store,
                                                                   TrustOptions options);

}  // namespace steward::agents
