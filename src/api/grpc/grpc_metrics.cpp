#include "api/grpc/grpc_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>

namespace steward::api::grpc {

struct GrpcMetrics::Families {
  prometheus::Family<prometheus::Counter>& calls;
  prometheus::Family<prometheus::Histogram>& durations;
};

GrpcMetrics::GrpcMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(Families{
          prometheus::BuildCounter()
              .Name("steward_grpc_requests_total")
              .Help("gRPC calls finished, by method and status code (a stream counts when it ends).")
              .Register(*registry_),
          prometheus::BuildHistogram()
              .Name("steward_grpc_request_duration_seconds")
              .Help("Time from a gRPC call's arrival to its end, by method (a stream: until it ends).")
              .Register(*registry_)})) {}

GrpcMetrics::~GrpcMetrics() = default;

void GrpcMetrics::observe(const std::string& method, int code, double seconds) {
  families_->calls.Add({{"method", method}, {"code", grpc_code_name(code)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                 0.25,  0.5,    1,     2.5,  10,    60,   600};
  families_->durations.Add({{"method", method}}, kBuckets).Observe(seconds);
}

std::vector<prometheus::MetricFamily> GrpcMetrics::collect() const {
  return registry_->Collect();
}

const char* grpc_code_name(int code) {
  static constexpr std::array<const char*, 17> kNames{
      "OK",      "CANCELLED",          "UNKNOWN",             "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",         "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(kNames.size())) return "UNKNOWN";
  return kNames[static_cast<std::size_t>(code)];
}

}  // namespace steward::api::grpc
