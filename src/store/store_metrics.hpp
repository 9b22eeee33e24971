#pragma once
// Store write latency (prometheus-cpp), by store kind and a fixed set of
// write classes, measured by the decorator timed_store() puts around a
// store: one seam for every store kind and every caller. Thread-safe.
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
struct MetricFamily;
}  // namespace prometheus

namespace steward::store {

class Store;

// What a write does; each names one label value.
enum class WriteClass { Job, Process, Lease, Record, Token, Cancel, Prune, Flush };
const char* write_class_name(WriteClass kind);

class StoreMetrics {
 public:
  StoreMetrics();
  ~StoreMetrics();

  // `store`: "sqlite" or "redis".
  void observe(const std::string& store, WriteClass kind, double seconds);
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  struct Families;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
};

// `inner` with its awaited writes timed into `metrics` under `kind`
// ("sqlite", "redis"). Fire-and-forget writes (output, results, values,
// audit) are queued, not awaited: their cost shows in the next flush.
std::unique_ptr<Store> timed_store(std::unique_ptr<Store> inner, std::string kind, StoreMetrics& metrics);

}  // namespace steward::store
