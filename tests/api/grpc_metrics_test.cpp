#include <gtest/gtest.h>

#include <prometheus/metric_family.h>

#include <map>
#include <string>

#include "api/grpc/grpc_metrics.hpp"

namespace steward::api::grpc {
namespace {

std::map<std::string, std::string> labels_of(const prometheus::ClientMetric& metric) {
  std::map<std::string, std::string> labels;
  for (const auto& label : metric.label) labels[label.name] = label.value;
  return labels;
}

TEST(GrpcMetricsTest, CountsCallsByMethodAndCodeAndTimesThemByMethod) {
  GrpcMetrics metrics;
  metrics.observe("/Capability/GetCapabilities", 0, 0.002);
  metrics.observe("/Capability/GetCapabilities", 0, 0.004);
  metrics.observe("/Capability/GetCapabilities", 16, 0.001);
  metrics.observe("unknown", 12, 0.0005);

  std::map<std::pair<std::string, std::string>, double> calls;
  std::map<std::string, std::pair<std::uint64_t, double>> durations;
  for (const auto& family : metrics.collect()) {
    for (const auto& metric : family.metric) {
      auto labels = labels_of(metric);
      if (family.name == "steward_grpc_requests_total") {
        calls[{labels["method"], labels["code"]}] = metric.counter.value;
      } else {
        ASSERT_EQ(family.name, "steward_grpc_request_duration_seconds");
        EXPECT_EQ(labels.size(), 1u) << "only the method labels a latency";
        EXPECT_EQ(metric.histogram.bucket.back().cumulative_count, metric.histogram.sample_count);
        durations[labels["method"]] = {metric.histogram.sample_count, metric.histogram.sample_sum};
      }
    }
  }
  const std::map<std::pair<std::string, std::string>, double> expected_calls{
      {{"/Capability/GetCapabilities", "OK"}, 2},
      {{"/Capability/GetCapabilities", "UNAUTHENTICATED"}, 1},
      {{"unknown", "UNIMPLEMENTED"}, 1}};
  EXPECT_EQ(calls, expected_calls);
  ASSERT_EQ(durations.size(), 2u);
  EXPECT_EQ(durations["/Capability/GetCapabilities"].first, 3u);
  EXPECT_DOUBLE_EQ(durations["/Capability/GetCapabilities"].second, 0.007);
  EXPECT_EQ(durations["unknown"].first, 1u);
}

TEST(GrpcMetricsTest, NamesCodesAsGrpcDoes) {
  EXPECT_STREQ(grpc_code_name(0), "OK");
  EXPECT_STREQ(grpc_code_name(1), "CANCELLED");
  EXPECT_STREQ(grpc_code_name(4), "DEADLINE_EXCEEDED");
  EXPECT_STREQ(grpc_code_name(14), "UNAVAILABLE");
  EXPECT_STREQ(grpc_code_name(16), "UNAUTHENTICATED");
  EXPECT_STREQ(grpc_code_name(17), "UNKNOWN");
  EXPECT_STREQ(grpc_code_name(-1), "UNKNOWN");
}

}  // namespace
}  // namespace steward::api::grpc
