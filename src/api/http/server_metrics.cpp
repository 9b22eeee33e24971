#include "api/http/server_metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "api/http/http_metrics.hpp"
#include "api/http/routes.hpp"
#include "core/loop_watchdog.hpp"
#include "core/spawn.hpp"
#include "jobs/job_service.hpp"
#include "sched/scheduler.hpp"

namespace steward::api::http {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const char* state_name(JobState state) {
  switch (state) {
    case JobState::Done: return "done";
    case JobState::Running: return "running";
    case JobState::Failure: return "failure";
  }
  return "unknown";
}

// One family of a single unlabelled value.
MetricFamily single(std::string name, std::string help, MetricType type, double value) {
  ClientMetric metric;
  if (type == MetricType::Counter) metric.counter.value = value;
  else metric.gauge.value = value;
  return MetricFamily{std::move(name), std::move(help), type, {std::move(metric)}};
}

MetricFamily queue_wait_histogram(const sched::WaitStats& waits) {
  ClientMetric metric;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < sched::WaitStats::kBuckets.size(); ++i) {
    cumulative += waits.counts[i];
    const bool last = i + 1 == sched::WaitStats::kBuckets.size();
    metric.histogram.bucket.push_back(
        {cumulative, last ? std::numeric_limits<double>::infinity() : sched::WaitStats::kBuckets[i]});
  }
  metric.histogram.sample_count = waits.started;
  metric.histogram.sample_sum = waits.wait_seconds_sum;
  return MetricFamily{"steward_queue_wait_seconds", "Time operations waited in the fair queue.",
                      MetricType::Histogram, {std::move(metric)}};
}

std::vector<MetricFamily> job_families(const jobs::JobCounters& counters) {
  MetricFamily accepted{"steward_jobs_accepted_by_operation_total", "Jobs accepted since start, by operation.",
                        MetricType::Counter, {}};
  for (const auto& [operation, count] : counters.accepted_by_operation) {
    ClientMetric metric;
    metric.label = {{"operation", operation}};
    metric.counter.value = static_cast<double>(count);
    accepted.metric.push_back(std::move(metric));
  }
  MetricFamily finished{"steward_jobs_finished_by_operation_total",
                        "Jobs that ended since start, by operation and final state.", MetricType::Counter, {}};
  for (const auto& [key, count] : counters.finished_by_operation) {
    ClientMetric metric;
    metric.label = {{"operation", key.first}, {"state", state_name(key.second)}};
    metric.counter.value = static_cast<double>(count);
    finished.metric.push_back(std::move(metric));
  }
  return {std::move(accepted), std::move(finished)};
}

}  // namespace

std::string metrics_text(const ApiContext& context) {
  const auto& waits = context.scheduler.wait_stats();
  const auto& counters = context.jobs.counters();
  std::vector<MetricFamily> families{
      single("steward_jobs_accepted_total", "Jobs accepted since start.", MetricType::Counter,
             static_cast<double>(counters.accepted)),
      single("steward_jobs_finished_total", "Jobs that ended since start.", MetricType::Counter,
             static_cast<double>(counters.finished)),
      single("steward_jobs_recovered_total", "Unfinished jobs taken over at start.", MetricType::Counter,
             static_cast<double>(counters.recovered)),
      single("steward_jobs_live", "Jobs not yet ended.", MetricType::Gauge, static_cast<double>(context.jobs.live_jobs())),
      single("steward_coroutine_failures_total", "Spawned coroutines that ended with an exception (each is logged).",
             MetricType::Counter, static_cast<double>(spawn_failures())),
      single("steward_event_loop_stalls_total", "Times the event loop was held over 100 ms (each logged, rate-limited).",
             MetricType::Counter, static_cast<double>(context.watchdog.stalls())),
      single("steward_operations_running", "Operations running now.", MetricType::Gauge,
             static_cast<double>(context.scheduler.running())),
      single("steward_operations_waiting", "Operations waiting for a target or a connection slot.", MetricType::Gauge,
             static_cast<double>(context.scheduler.waiting())),
      single("steward_max_connections", "Operations allowed to run at once.", MetricType::Gauge,
             static_cast<double>(context.scheduler.max_connections())),
      queue_wait_histogram(waits),
      single("steward_queue_wait_seconds_max", "Longest queue wait seen.", MetricType::Gauge, waits.wait_seconds_max),
  };
  for (auto& family : job_families(counters)) families.push_back(std::move(family));
  if (context.http_metrics)
    for (auto& family : context.http_metrics->collect()) families.push_back(std::move(family));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace steward::api::http
