#pragma once
// Metrics of the REST API (prometheus-cpp): requests by route and status,
// and their latency by route. Labels come from the route table, never from
// the path, so the series stay bounded (about 50 routes x a few statuses).
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
struct MetricFamily;
}  // namespace prometheus

namespace steward::api::http {

class HttpMetrics {
 public:
  HttpMetrics();
  ~HttpMetrics();

  // One answered request: `route` as the router names it ("GET /jobs/:jid",
  // empty when no route matched), the status sent, the time taken.
  void observe(const std::string& route, unsigned status, double seconds);
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  struct Families;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
};

}  // namespace steward::api::http
