#include "store/store_metrics.hpp"

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace steward::store {

const char* write_class_name(WriteClass kind) {
  switch (kind) {
    case WriteClass::Job: return "job";
    case WriteClass::Process: return "process";
    case WriteClass::Lease: return "lease";
    case WriteClass::Record: return "record";
    case WriteClass::Token: return "token";
    case WriteClass::Cancel: return "cancel";
    case WriteClass::Prune: return "prune";
    case WriteClass::Flush: return "flush";
  }
  return "other";
}

struct StoreMetrics::Families {
  prometheus::Family<prometheus::Histogram>& writes;
};

StoreMetrics::StoreMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(Families{
          prometheus::BuildHistogram()
              .Name("steward_store_write_duration_seconds")
              .Help("Time until a store write is durable, by store kind and class of write (flush: every "
                    "queued output, result, value and audit write before it).")
              .Register(*registry_)})) {}

StoreMetrics::~StoreMetrics() = default;

void StoreMetrics::observe(const std::string& store, WriteClass kind, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                 0.05,   0.1,   0.25,   0.5,   1,    5};
  families_->writes.Add({{"store", store}, {"operation", write_class_name(kind)}}, kBuckets).Observe(seconds);
}

std::vector<prometheus::MetricFamily> StoreMetrics::collect() const {
  return registry_->Collect();
}

}  // namespace steward::store
