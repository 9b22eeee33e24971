// The server about itself: liveness and Prometheus metrics.
#include <fmt/format.h>

#include "api/http/routes.hpp"
#include "core/loop_watchdog.hpp"
#include "core/spawn.hpp"
#include "jobs/job_service.hpp"
#include "sched/scheduler.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

std::string metrics_text(const ApiContext& context) {
  const auto& waits = context.scheduler.wait_stats();
  const auto& counters = context.jobs.counters();
  std::string out;
  auto gauge = [&out](const char* name, const char* help, double value, const char* type = "gauge") {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  gauge("steward_jobs_accepted_total", "Jobs accepted since start.", counters.accepted, "counter");
  gauge("steward_jobs_finished_total", "Jobs that ended since start.", counters.finished, "counter");
  gauge("steward_jobs_recovered_total", "Unfinished jobs taken over at start.", counters.recovered, "counter");
  gauge("steward_jobs_live", "Jobs not yet ended.", context.jobs.live_jobs());
  gauge("steward_coroutine_failures_total", "Spawned coroutines that ended with an exception (each is logged).",
        static_cast<double>(spawn_failures()), "counter");
  gauge("steward_event_loop_stalls_total", "Times the event loop was held over 100 ms (each logged, rate-limited).",
        static_cast<double>(context.watchdog.stalls()), "counter");
  gauge("steward_operations_running", "Operations running now.", context.scheduler.running());
  gauge("steward_operations_waiting", "Operations waiting for a target or a connection slot.", context.scheduler.waiting());
  gauge("steward_max_connections", "Operations allowed to run at once.", context.scheduler.max_connections());
  out += "# HELP steward_queue_wait_seconds Time operations waited in the fair queue.\n";
  out += "# TYPE steward_queue_wait_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < sched::WaitStats::kBuckets.size(); ++i) {
    cumulative += waits.counts[i];
    bool last = i + 1 == sched::WaitStats::kBuckets.size();
    std::string le = last ? "+Inf" : fmt::format("{}", sched::WaitStats::kBuckets[i]);
    out += fmt::format("steward_queue_wait_seconds_bucket{{le=\"{}\"}} {}\n", le, cumulative);
  }
  out += fmt::format("steward_queue_wait_seconds_sum {}\nsteward_queue_wait_seconds_count {}\n",
                     waits.wait_seconds_sum, waits.started);
  gauge("steward_queue_wait_seconds_max", "Longest queue wait seen.", waits.wait_seconds_max);
  return out;
}

}  // namespace

void add_service_routes(Router& router, ApiContext& context) {
  router.add(http::verb::get, "/healthz", [](Exchange& e) -> awaitable<void> {
    boost::json::object body;
    body["status"] = "ok";
    body["version"] = STEWARD_VERSION;
    co_await e.reply(http::status::ok, body);
  });
  router.add(http::verb::get, "/metrics", [&context](Exchange& e) -> awaitable<void> {
    co_await e.reply_text(http::status::ok, "text/plain; version=0.0.4", metrics_text(context));
  });
  router.add(http::verb::get, "/", [](Exchange& e) -> awaitable<void> {
    boost::json::object body;
    body["name"] = "steward";
    body["version"] = STEWARD_VERSION;
    co_await e.reply(http::status::ok, body);
  });
}

}  // namespace steward::api::http
