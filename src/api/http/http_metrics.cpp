#include "api/http/http_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace steward::api::http {

struct HttpMetrics::Families {
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& durations;
};

HttpMetrics::HttpMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(Families{
          prometheus::BuildCounter()
              .Name("steward_http_requests_total")
              .Help("REST requests answered, by route and status.")
              .Register(*registry_),
          prometheus::BuildHistogram()
              .Name("steward_http_request_duration_seconds")
              .Help("Time from a request's last byte to its reply's end, by route (a stream: until it ends).")
              .Register(*registry_)})) {}

HttpMetrics::~HttpMetrics() = default;

void HttpMetrics::observe(const std::string& route, unsigned status, double seconds) {
  const std::string label = route.empty() ? "unmatched" : route;
  families_->requests.Add({{"route", label}, {"status", std::to_string(status)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                 0.1,   0.25,   0.5,   1,    2.5,   10};
  families_->durations.Add({{"route", label}}, kBuckets).Observe(seconds);
}

std::vector<prometheus::MetricFamily> HttpMetrics::collect() const {
  return registry_->Collect();
}

}  // namespace steward::api::http
