#include "packages/conditions.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/cancel.hpp"
#include "core/clock.hpp"
#include "core/strings.hpp"
#include "core/timer.hpp"
#include "sched/grid.hpp"
#include "sched/scheduler.hpp"
#include "transport/transport.hpp"
#include "core/spawn.hpp"

namespace steward::packages {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
constexpr std::size_t kOutputCap = 64 * 1024;

// Logs the 1st, 2nd, 4th, 8th... occurrence: a broken condition stays visible
// without one line per second.
bool worth_logging(std::uint64_t count) { return (count & (count - 1)) == 0; }

}  // namespace

struct ConditionHub::Runner : std::enable_shared_from_this<Runner> {
  Runner(const Clock& clock, ConditionSpec spec, std::shared_ptr<ConditionCounters> counters)
      : spec(std::move(spec)), counters(std::move(counters)), timer(clock.make_timer()),
        run_ended(clock.make_timer()) {}

  struct Subscriber {
    Listener listener;
    Closer closer;
  };

  ConditionSpec spec;
  std::shared_ptr<ConditionCounters> counters;
  std::map<std::uint64_t, Subscriber> subscribers;
  std::unique_ptr<Timer> timer;
  std::unique_ptr<Timer> run_ended;  // SleepAfterRun: woken when a run ends
  CancelToken cancel = make_cancel_token();
  bool stopped = false;
  bool in_flight = false;
  bool unreachable = false;

  void stop(const std::string& reason) {
    stopped = true;
    timer->cancel();
    run_ended->cancel();
    cancel->cancel(reason);
  }

  void publish(const store::ConditionValue& value) {
    auto listeners = subscribers;  // a listener may unsubscribe
    for (auto& [_, subscriber] : listeners) subscriber.listener(value);
  }

  void record(const Result<transport::ExecOutcome>& outcome, store::Store& store) {
    ConditionCounters& c = *counters;
    ++c.runs;
    if (!outcome) {
      if (outcome.error().code == ErrorCode::Unreachable) {
        ++c.skipped_unreachable;
        if (!unreachable)
          spdlog::info("condition {}: {} unreachable, skipping ticks until it is back: {}", spec.id,
                       spec.target.name, outcome.error().message);
        unreachable = true;
      } else if (++c.failed; worth_logging(c.failed)) {
        spdlog::warn("condition {}: cannot run on {} ({} times): {}", spec.id, spec.target.name, c.failed,
                     outcome.error().message);
      }
      return;
    }
    if (unreachable) {
      spdlog::info("condition {}: {} is reachable again after {} skipped ticks", spec.id, spec.target.name,
                   c.skipped_unreachable);
      unreachable = false;
    }
    const auto& out = *outcome;
    if (out.exit_code != 0 || out.timed_out || out.cancelled) {
      if (out.cancelled) return;
      if (++c.failed; worth_logging(c.failed))
        spdlog::warn("condition {}: command on {} {} ({} times): {}", spec.id, spec.target.name,
                     out.timed_out ? "timed out" : "exited with " + std::to_string(out.exit_code), c.failed,
                     trim(out.stderr_data).substr(0, 200));
      return;
    }
    auto value = parse_condition_output(out.stdout_data);
    if (!value) {
      if (++c.unparsable; worth_logging(c.unparsable))
        spdlog::warn("condition {}: output of {} is not a number ({} times): '{}'", spec.id, spec.target.name,
                     c.unparsable, trim(out.stdout_data).substr(0, 80));
      return;
    }
    // Passed on unchanged: the client judges such values (Ranger flags them);
    // clamping would turn a 2 into "met".
    if (*value < 0 || *value > 1) {
      if (++c.out_of_range; worth_logging(c.out_of_range))
        spdlog::warn("condition {}: value {} from {} is outside [0, 1], passed on as it is ({} times)", spec.id,
                     *value, spec.target.name, c.out_of_range);
    }
    store::ConditionValue entry{unix_now(), *value};
    ++c.values;
    c.last = entry;
    store.append_condition_value(spec.id, entry);
    publish(entry);
  }
};

namespace {

struct RunnerContext {
  sched::Scheduler& scheduler;
  const transport::TransportRegistry& transports;
  store::Store& store;
  Pacing pacing;
};

awaitable<void> run_once(std::shared_ptr<ConditionHub::Runner> runner, RunnerContext context) {
  const ConditionSpec& spec = runner->spec;
  auto transport = context.transports.get(spec.target.connection);
  if (!transport) {
    runner->record(transport.error(), context.store);
    co_return;
  }
  transport::ExecRequest request;
  request.command = spec.command;
  request.env = spec.environment;
  request.timeout = std::max<std::chrono::milliseconds>(spec.interval * 2, std::chrono::seconds(10));
  request.output_cap = kOutputCap;
  request.keep_tail = true;
  auto outcome = co_await (*transport)->run(spec.target, std::move(request),
                                            [](transport::Stream, std::string_view) {}, runner->cancel);
  runner->record(outcome, context.store);
}

void start_run(const std::shared_ptr<ConditionHub::Runner>& runner, const RunnerContext& context) {
  runner->in_flight = true;
  const Target& target = runner->spec.target;
  context.scheduler.submit(target.name, target.max_sessions, runner->counters->runs + 1,
                           [runner, context](std::chrono::nanoseconds) -> awaitable<void> {
                             if (!runner->stopped) co_await run_once(runner, context);
                             runner->in_flight = false;
                             runner->run_ended->cancel();
                           },
                           sched::WorkKind::Conditions);
}

// Where in its interval a condition's grid starts, spread by its id: a
// thousand conditions streamed at once then run evenly across each second
// instead of in one burst that the later ones wait behind.
std::chrono::nanoseconds phase_of(const ConditionSpec& spec) {
  constexpr std::uint64_t kSteps = 1024;
  auto step = std::hash<std::string>{}(spec.id) % kSteps;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(spec.interval) * step / kSteps;
}

// How long from now until the condition's next slot: slots sit at the phase
// of each interval of Unix time, so a runner started on another server
// (after a take-over) keeps the same grid.
std::chrono::nanoseconds until_first_slot(const ConditionSpec& spec) {
  const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(spec.interval);
  if (interval.count() <= 0) return {};
  const auto into_interval = std::chrono::nanoseconds(static_cast<std::int64_t>(unix_now() * 1e9)) % interval;
  return ((phase_of(spec) - into_interval) % interval + interval) % interval;
}

awaitable<void> run_on_grid(std::shared_ptr<ConditionHub::Runner> runner, RunnerContext context) {
  const Clock& clock = context.scheduler.clock();
  sched::TimeGrid grid(clock.now() + until_first_slot(runner->spec), runner->spec.interval);
  while (!runner->stopped) {
    const SteadyTime due = grid.next(clock.now(), runner->counters->skipped_busy);
    co_await runner->timer->wait_until(due);
    if (runner->stopped) break;
    if (runner->in_flight) {
      ++runner->counters->skipped_busy;
      continue;
    }
    start_run(runner, context);
  }
}

awaitable<void> run_sleeping_after_each(std::shared_ptr<ConditionHub::Runner> runner, RunnerContext context) {
  while (!runner->stopped) {
    start_run(runner, context);
    while (runner->in_flight && !runner->stopped) co_await runner->run_ended->wait_until(SteadyTime::max());
    const SteadyTime due = context.scheduler.clock().now() + runner->spec.interval;
    co_await runner->timer->wait_until(due);
  }
}

// Another server runs the condition: its values are read back from the
// store a few times per interval, and only those stored after we started.
awaitable<void> follow_stored_values(std::shared_ptr<ConditionHub::Runner> runner, RunnerContext context) {
  constexpr std::size_t kBatch = 64;
  const Clock& clock = context.scheduler.clock();
  const auto poll = std::clamp<std::chrono::milliseconds>(runner->spec.interval / 4, std::chrono::milliseconds(100),
                                                          std::chrono::seconds(1));
  double seen_until = unix_now();
  while (!runner->stopped) {
    co_await runner->timer->wait_until(clock.now() + poll);
    if (runner->stopped) break;
    auto values = co_await context.store.load_condition_values(runner->spec.id, kBatch);
    if (!values) continue;
    for (const auto& value : *values) {
      if (value.at <= seen_until || runner->stopped) continue;
      seen_until = value.at;
      ++runner->counters->values;
      runner->counters->last = value;
      runner->publish(value);
    }
  }
}

}  // namespace

std::optional<double> parse_condition_output(std::string_view output) {
  std::string text = trim(output);
  if (auto newline = text.find_last_of('\n'); newline != std::string::npos) text = trim(text.substr(newline + 1));
  std::string_view number = text;
  if (number.starts_with('+')) number.remove_prefix(1);
  if (number.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

ConditionHub::ConditionHub(asio::any_io_executor executor, sched::Scheduler& scheduler,
                           const transport::TransportRegistry& transports, store::Store& store, Pacing pacing)
    : executor_(std::move(executor)), scheduler_(scheduler), transports_(transports), store_(store),
      pacing_(pacing) {}

const Clock& ConditionHub::clock() const { return scheduler_.clock(); }

ConditionHub::~ConditionHub() { stop_all(make_error(ErrorCode::Unavailable, "server shutting down")); }

std::uint64_t ConditionHub::subscribe(const ConditionSpec& spec, Listener listener, Closer closer) {
  return join(Role::Run, spec, std::move(listener), std::move(closer));
}

std::uint64_t ConditionHub::follow(const ConditionSpec& spec, Listener listener, Closer closer) {
  return join(Role::Follow, spec, std::move(listener), std::move(closer));
}

std::uint64_t ConditionHub::join(Role role, const ConditionSpec& spec, Listener listener, Closer closer) {
  auto& runner = runners_[{spec.id, role}];
  if (!runner) {
    auto& counters = counters_[spec.id];
    if (!counters) counters = std::make_shared<ConditionCounters>();
    runner = std::make_shared<Runner>(scheduler_.clock(), spec, counters);
    RunnerContext context{scheduler_, transports_, store_, pacing_};
    // A runner that throws ends its streams rather than leaving them waiting.
    auto on_end = [this, key = RunnerKey{spec.id, role}, started = std::weak_ptr<Runner>(runner)](std::exception_ptr failure) {
      if (!failure) return;
      report_spawn_failure("the runner of condition " + key.first, failure);
      auto it = runners_.find(key);
      if (it != runners_.end() && it->second == started.lock())
        stop(key.first, make_error(ErrorCode::Internal, "the condition's runner failed"));
    };
    if (role == Role::Follow) {
      asio::co_spawn(executor_, follow_stored_values(runner, context), std::move(on_end));
      spdlog::info("condition {}: following the values another server stores", spec.id);
    } else {
      if (pacing_ == Pacing::Grid) asio::co_spawn(executor_, run_on_grid(runner, context), std::move(on_end));
      else asio::co_spawn(executor_, run_sleeping_after_each(runner, context), std::move(on_end));
      spdlog::info("condition {}: runner started on {} every {} s", spec.id, spec.target.name,
                   spec.interval.count() / 1000.0);
    }
  }
  std::uint64_t number = next_subscription_++;
  runner->subscribers.emplace(number, Runner::Subscriber{std::move(listener), std::move(closer)});
  return number;
}

void ConditionHub::unsubscribe(const std::string& id, std::uint64_t subscription) {
  for (auto role : {Role::Run, Role::Follow}) {
    auto it = runners_.find({id, role});
    if (it == runners_.end() || !it->second->subscribers.erase(subscription)) continue;
    if (!it->second->subscribers.empty()) return;
    it->second->stop("no subscribers left");
    runners_.erase(it);
    spdlog::info("condition {}: {} stopped (no subscribers left)", id, role == Role::Run ? "runner" : "follower");
    return;
  }
}

void ConditionHub::stop(const std::string& condition, const Error& why) {
  const std::string id = condition;  // `condition` may be a key of runners_, erased below
  for (auto role : {Role::Run, Role::Follow}) {
    auto it = runners_.find({id, role});
    if (it == runners_.end()) continue;
    auto runner = it->second;
    runners_.erase(it);
    runner->stop(why.message);
    auto subscribers = std::move(runner->subscribers);
    for (auto& [_, subscriber] : subscribers) subscriber.closer(why);
  }
}

void ConditionHub::stop_all(const Error& why) {
  while (!runners_.empty()) stop(runners_.begin()->first.first, why);
}

std::size_t ConditionHub::subscribers(const std::string& id) const {
  std::size_t count = 0;
  for (auto role : {Role::Run, Role::Follow}) {
    auto it = runners_.find({id, role});
    if (it != runners_.end()) count += it->second->subscribers.size();
  }
  return count;
}

std::vector<ConditionSpec> ConditionHub::followed() const {
  std::vector<ConditionSpec> specs;
  for (const auto& [key, runner] : runners_)
    if (key.second == Role::Follow) specs.push_back(runner->spec);
  return specs;
}

std::optional<ConditionCounters> ConditionHub::counters(const std::string& id) const {
  auto it = counters_.find(id);
  if (it == counters_.end()) return std::nullopt;
  return *it->second;
}

ConditionCounters ConditionHub::totals() const {
  ConditionCounters total;
  for (const auto& [_, counters] : counters_) {
    total.runs += counters->runs;
    total.values += counters->values;
    total.skipped_busy += counters->skipped_busy;
    total.skipped_unreachable += counters->skipped_unreachable;
    total.failed += counters->failed;
    total.unparsable += counters->unparsable;
    total.out_of_range += counters->out_of_range;
  }
  return total;
}

}  // namespace steward::packages
