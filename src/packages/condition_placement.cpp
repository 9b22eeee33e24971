// Conditions when several servers share the store (README "Servers and
// leases"). A condition runs on the server that owns its target's slot. A
// server whose client streams a condition it does not own follows the values
// the owner stores, and says so with a "condition-watch" record, renewed every
// period and forgotten kWatchTtl after its last renewal: the owner runs the
// condition for as long as a watch lasts, and after a take-over the target's
// next owner does, on the same grid (ConditionHub's grid is on Unix time).
#include <spdlog/spdlog.h>

#include <set>

#include "core/clock.hpp"
#include "core/json_text.hpp"
#include "core/timer.hpp"
#include "jobs/job_service.hpp"
#include "packages/deputy.hpp"
#include "store/placement.hpp"

namespace steward::packages {

using boost::asio::awaitable;

namespace {

// Store calls take references that a coroutine store keeps until it is
// done: kinds and records are passed as named objects, never temporaries.
const std::string kWatch = "condition-watch";
constexpr double kWatchTtl = 10;      // seconds a watch lasts unless renewed
constexpr double kWatchForget = 600;  // seconds after which an expired watch is deleted

boost::json::object watch_record(const ConditionSpec& spec, double now) {
  return {{"id", spec.id}, {"target", spec.target.name}, {"until", now + kWatchTtl}};
}

double until_of(const boost::json::object& watch) {
  const auto* until = watch.if_contains("until");
  return until && until->is_number() ? until->to_number<double>() : 0;
}

}  // namespace

awaitable<std::string> DeputyService::owner_of(const std::string& target) {
  auto live = co_await store_.live_servers(unix_now());
  if (!live) {
    spdlog::warn("cannot tell which server owns {}, running its conditions here: {}", target, live.error().message);
    co_return jobs_.server_id();
  }
  co_return store::slot_owner(store::slot_of(target), *live);
}

awaitable<Result<std::uint64_t>> DeputyService::join_condition(const ConditionSpec& spec,
                                                               ConditionHub::Listener listener,
                                                               ConditionHub::Closer closer) {
  auto finding = owner_of(spec.target.name);
  const std::string owner = co_await std::move(finding);
  if (owner == jobs_.server_id()) co_return conditions_.subscribe(spec, std::move(listener), std::move(closer));
  // Announced at once, so the owner starts within one of its placement rounds.
  const auto watch = watch_record(spec, unix_now());
  auto announcing = store_.put_record(kWatch, spec.id, watch);
  if (auto announced = co_await std::move(announcing); !announced) co_return announced.error();
  co_return conditions_.follow(spec, std::move(listener), std::move(closer));
}

awaitable<void> DeputyService::place_conditions_periodically(std::chrono::milliseconds period) {
  const Clock& clock = conditions_.clock();
  placement_timer_ = clock.make_timer();
  auto timer = placement_timer_;
  while (!stopping_) {
    co_await place_conditions_once();
    const SteadyTime next = clock.now() + period;
    bool came = co_await timer->wait_until(next);
    if (!came) break;
  }
}

awaitable<void> DeputyService::place_conditions_once() {
  const double now = unix_now();
  for (const auto& spec : conditions_.followed()) {
    const auto watch = watch_record(spec, now);
    auto renewing = store_.put_record(kWatch, spec.id, watch);
    if (auto renewed = co_await std::move(renewing); !renewed)
      spdlog::warn("condition {}: cannot renew its watch: {}", spec.id, renewed.error().message);
  }
  auto watches = co_await store_.list_records(kWatch);
  auto live = co_await store_.live_servers(now);
  if (!watches || !live) co_return;  // the store is away: what runs goes on
  std::set<std::string> wanted;
  for (const auto& watch : *watches) {
    const std::string id = text_of(watch, "id");
    if (until_of(watch) < now - kWatchForget) {
      auto forgetting = store_.delete_record(kWatch, id);
      (void)co_await std::move(forgetting);
    }
    if (until_of(watch) < now || deleting_.contains(id)) continue;
    if (store::slot_owner(store::slot_of(text_of(watch, "target")), *live) == jobs_.server_id()) wanted.insert(id);
  }
  for (auto it = run_for_watchers_.begin(); it != run_for_watchers_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    conditions_.unsubscribe(it->first, it->second);
    it = run_for_watchers_.erase(it);
  }
  for (const auto& id : wanted) {
    if (run_for_watchers_.contains(id)) continue;
    auto record = co_await load(kConditionKind, id);
    auto spec = record ? spec_of(*record) : Result<ConditionSpec>(record.error());
    if (!spec) {
      spdlog::warn("condition {}: watched on another server but cannot run here: {}", id, spec.error().message);
      continue;
    }
    if (run_for_watchers_.contains(id) || deleting_.contains(id)) continue;  // decided while the record was read
    spdlog::info("condition {}: running it for servers that follow it", id);
    run_for_watchers_[id] = conditions_.subscribe(*spec, [](const store::ConditionValue&) {},
                                                  [this, id](const Error&) { run_for_watchers_.erase(id); });
  }
}

void DeputyService::stop_running_for_watchers() {
  for (const auto& [id, subscription] : run_for_watchers_) conditions_.unsubscribe(id, subscription);
  run_for_watchers_.clear();
}

}  // namespace steward::packages
