#pragma once
// GET /metrics: the Prometheus text format, written by prometheus-cpp.
#include <string>

namespace steward::api::http {

struct ApiContext;

std::string metrics_text(const ApiContext& context);

}  // namespace steward::api::http
