#pragma once
// Metrics of the gRPC API (prometheus-cpp): calls by method and status code,
// and their latency by method (a stream: until it ends). Methods come from
// the method table, anything else counts as "unknown", so the series stay
// bounded (a dozen methods x the 17 gRPC codes at most). Thread-safe: calls
// finish on gRPC's threads.
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
struct MetricFamily;
}  // namespace prometheus

namespace steward::api::grpc {

class GrpcMetrics {
 public:
  GrpcMetrics();
  ~GrpcMetrics();

  // One finished call: `method` a full method name of the table (or
  // "unknown"), `code` the numeric gRPC status code, the time taken.
  void observe(const std::string& method, int code, double seconds);
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  struct Families;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
};

// "OK", "CANCELLED", ... as gRPC names its codes; "UNKNOWN" for anything else.
const char* grpc_code_name(int code);

}  // namespace steward::api::grpc
