#pragma once
// What the job service keeps in memory for a job that has not ended.
#include <memory>
#include <vector>

#include "core/cancel.hpp"
#include "core/model.hpp"
#include "core/signal.hpp"
#include "jobs/subscription.hpp"
#include "ops/operation.hpp"

namespace steward::jobs {

struct LiveJob {
  Job job;
  const ops::Operation* op = nullptr;
  CancelToken cancel = make_cancel_token();
  std::uint64_t next_seq = 1;  // of output chunks
  std::size_t running = 0;     // targets running now
  bool ended = false;
  Signal ended_signal;
  std::vector<std::weak_ptr<Subscription>> subscribers;
};

}  // namespace steward::jobs
