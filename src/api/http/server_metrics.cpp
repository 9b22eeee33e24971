#include "api/http/server_metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>

#include "api/http/http_metrics.hpp"
#include "api/http/routes.hpp"
#include "core/loop_watchdog.hpp"
#include "core/spawn.hpp"
#include "jobs/job_service.hpp"
#include "packages/conditions.hpp"
#include "sched/scheduler.hpp"
#include "transport/transport.hpp"

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

ClientMetric value_metric(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (type == MetricType::Counter) metric.counter.value = value;
  else metric.gauge.value = value;
  return metric;
}

// One family of a single unlabelled value.
MetricFamily single(std::string name, std::string help, MetricType type, double value) {
  return MetricFamily{std::move(name), std::move(help), type, {value_metric(type, value)}};
}

// ErrorCode as a label value: "unreachable", "not_found", ...
std::string error_kind(ErrorCode code) {
  std::string kind = to_string(code);
  std::replace(kind.begin(), kind.end(), ' ', '_');
  return kind;
}

ClientMetric queue_wait_histogram(const sched::WaitStats& waits, std::string scheduler) {
  ClientMetric metric;
  metric.label = {{"scheduler", std::move(scheduler)}};
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < sched::WaitStats::kBuckets.size(); ++i) {
    cumulative += waits.counts[i];
    const bool last = i + 1 == sched::WaitStats::kBuckets.size();
    metric.histogram.bucket.push_back(
        {cumulative, last ? std::numeric_limits<double>::infinity() : sched::WaitStats::kBuckets[i]});
  }
  metric.histogram.sample_count = waits.started;
  metric.histogram.sample_sum = waits.wait_seconds_sum;
  return metric;
}

// One series per kind of work the fair queue serves (jobs, conditions).
std::vector<MetricFamily> scheduler_families(const sched::Scheduler& scheduler) {
  MetricFamily depth{"steward_queue_depth", "Work queued for a target or a connection slot, by scheduler.",
                     MetricType::Gauge, {}};
  MetricFamily waits{"steward_queue_wait_seconds", "Time work waited in the fair queue, by scheduler.",
                     MetricType::Histogram, {}};
  MetricFamily longest{"steward_queue_wait_seconds_max", "Longest queue wait seen, by scheduler.",
                       MetricType::Gauge, {}};
  for (auto kind : sched::kWorkKinds) {
    const auto& stats = scheduler.wait_stats(kind);
    const std::string name = sched::work_kind_name(kind);
    depth.metric.push_back(value_metric(MetricType::Gauge, static_cast<double>(stats.waiting), {{"scheduler", name}}));
    waits.metric.push_back(queue_wait_histogram(stats, name));
    longest.metric.push_back(value_metric(MetricType::Gauge, stats.wait_seconds_max, {{"scheduler", name}}));
  }
  return {std::move(depth), std::move(waits), std::move(longest)};
}

std::vector<MetricFamily> job_families(const jobs::JobCounters& counters) {
  MetricFamily accepted{"steward_jobs_accepted_by_operation_total", "Jobs accepted since start, by operation.",
                        MetricType::Counter, {}};
  for (const auto& [operation, count] : counters.accepted_by_operation)
    accepted.metric.push_back(
        value_metric(MetricType::Counter, static_cast<double>(count), {{"operation", operation}}));
  MetricFamily finished{"steward_jobs_finished_by_operation_total",
                        "Jobs that ended since start, by operation and final state.", MetricType::Counter, {}};
  for (const auto& [key, count] : counters.finished_by_operation)
    finished.metric.push_back(value_metric(MetricType::Counter, static_cast<double>(count),
                                           {{"operation", key.first}, {"state", state_name(key.second)}}));
  return {std::move(accepted), std::move(finished)};
}

// One series per registered transport (errors: per kind seen).
std::vector<MetricFamily> transport_families(const transport::TransportRegistry& transports) {
  MetricFamily open{"steward_transport_connections_open",
                    "Connections open now, by transport (ssh sessions, agent streams, qemu-ga sockets).",
                    MetricType::Gauge, {}};
  MetricFamily pool{"steward_transport_pool_size",
                    "Endpoints a transport keeps connections to for reuse (ssh: user@host:port, agent: agents, "
                    "qga: sockets).",
                    MetricType::Gauge, {}};
  MetricFamily in_flight{"steward_transport_operations_in_flight",
                         "Commands, pings and file copies running now, by transport.", MetricType::Gauge, {}};
  MetricFamily operations{"steward_transport_operations_total",
                          "Commands, pings and file copies ended, by transport.", MetricType::Counter, {}};
  MetricFamily errors{"steward_transport_errors_total",
                      "Commands, pings and file copies that could not be done, by transport and kind of error "
                      "(a command that ran and exited non-zero is no error).",
                      MetricType::Counter, {}};
  for (const auto& entry : transports.metrics()) {
    const std::vector<ClientMetric::Label> label{{"transport", entry.transport}};
    open.metric.push_back(value_metric(MetricType::Gauge, static_cast<double>(entry.connections.open), label));
    pool.metric.push_back(value_metric(MetricType::Gauge, static_cast<double>(entry.connections.pool_size), label));
    in_flight.metric.push_back(value_metric(MetricType::Gauge, static_cast<double>(entry.counts.in_flight), label));
    operations.metric.push_back(
        value_metric(MetricType::Counter, static_cast<double>(entry.counts.operations), label));
    for (const auto& [code, count] : entry.counts.errors)
      errors.metric.push_back(value_metric(MetricType::Counter, static_cast<double>(count),
                                           {{"transport", entry.transport}, {"kind", error_kind(code)}}));
  }
  return {std::move(open), std::move(pool), std::move(in_flight), std::move(operations), std::move(errors)};
}

std::vector<MetricFamily> condition_families(const packages::ConditionHub& conditions) {
  const auto totals = conditions.totals();
  auto count = [](std::uint64_t value) { return static_cast<double>(value); };
  MetricFamily skips{"steward_condition_skips_total", "Condition ticks that did not run, by reason.",
                     MetricType::Counter, {}};
  skips.metric.push_back(value_metric(MetricType::Counter, count(totals.skipped_busy), {{"reason", "busy"}}));
  skips.metric.push_back(
      value_metric(MetricType::Counter, count(totals.skipped_unreachable), {{"reason", "unreachable"}}));
  MetricFamily failures{"steward_condition_failures_total", "Condition runs that gave no value, by reason.",
                        MetricType::Counter, {}};
  failures.metric.push_back(value_metric(MetricType::Counter, count(totals.failed), {{"reason", "failed"}}));
  failures.metric.push_back(value_metric(MetricType::Counter, count(totals.unparsable), {{"reason", "unparsable"}}));
  return {
      single("steward_conditions_running", "Conditions run or followed here now.", MetricType::Gauge,
             static_cast<double>(conditions.runners())),
      single("steward_condition_ticks_total",
             "Condition runs that ended (with a value, a failure, or an unreachable target).", MetricType::Counter,
             count(totals.runs)),
      std::move(skips),
      std::move(failures),
      single("steward_condition_values_total",
             "Condition values produced (or, for a followed condition, read back from the store).",
             MetricType::Counter, count(totals.values)),
  };
}

template <typename Families>
void append(std::vector<MetricFamily>& all, Families&& more) {
  for (auto& family : more) all.push_back(std::move(family));
}

}  // namespace

std::string metrics_text(const ApiContext& context) {
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
  };
  append(families, scheduler_families(context.scheduler));
  append(families, job_families(counters));
  if (context.transports) append(families, transport_families(*context.transports));
  if (context.conditions) append(families, condition_families(*context.conditions));
  if (context.http_metrics) append(families, context.http_metrics->collect());
  for (const auto& source : context.metric_sources) append(families, source());
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace steward::api::http
