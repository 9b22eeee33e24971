#include "inventory/shared_health.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "core/clock.hpp"
#include "store/store.hpp"

namespace steward::inventory {
namespace {

const std::string kKind = "target-health";

boost::json::object to_record(const std::string& target, const TargetSighting& seen) {
  return {{"target", target}, {"reachable", seen.reachable}, {"when", seen.when}, {"error", seen.error}};
}

// Records another version wrote, or a hand, may lack fields: those are skipped.
bool from_record(const boost::json::object& record, std::string& target, TargetSighting& seen) {
  const auto* name = record.if_contains("target");
  const auto* reachable = record.if_contains("reachable");
  const auto* when = record.if_contains("when");
  const auto* error = record.if_contains("error");
  if (!name || !name->is_string() || !reachable || !reachable->is_bool() || !when || !when->is_number() || !error ||
      !error->is_string())
    return false;
  target = std::string(name->get_string());
  seen.reachable = reachable->get_bool();
  seen.when = when->to_number<double>();
  seen.error = std::string(error->get_string());
  return true;
}

}  // namespace

boost::asio::awaitable<void> share_health_once(TargetHealth& health, store::Store& store) {
  const auto due = health.unshared();
  for (const auto& [target, seen] : due) {
    const auto record = to_record(target, seen);
    auto putting = store.put_record(kKind, target, record);
    if (auto put = co_await std::move(putting); !put) {
      spdlog::debug("could not share what was seen of {}: {}", target, put.error().message);
      co_return;  // the store is away: what is due stays due for the next round
    }
    health.mark_shared(target, seen);
  }
  auto listing = store.list_records(kKind);
  auto records = co_await std::move(listing);
  if (!records) co_return;
  // A server whose clock runs ahead must not make this one's newer runs
  // look older than what it shared.
  const double now = unix_now();
  std::string target;
  TargetSighting seen;
  for (const auto& record : *records) {
    if (!from_record(record, target, seen)) continue;
    seen.when = std::min(seen.when, now);
    health.merge(target, seen);
  }
}

boost::asio::awaitable<void> share_health_periodically(TargetHealth& health, store::Store& store,
                                                       std::chrono::milliseconds period) {
  auto executor = co_await boost::asio::this_coro::executor;
  boost::asio::steady_timer timer(executor);
  for (;;) {
    co_await share_health_once(health, store);
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace steward::inventory
