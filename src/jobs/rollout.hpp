#pragma once
// Rolling batches and a failure threshold on any job (issue 16), as Ansible's
// `serial` + `max_fail_percentage` and Salt's `--batch-size`:
//   "batch": 10 or "10%"        targets run in batches of that size, in the
//                               job's target order; a batch starts when the
//                               one before it has ended
//   "max_failures": 2 or "20%"  once more targets than that have failed
//                               (any failed state: failure, unreachable),
//                               no further batch starts: the targets left
//                               end Skipped with the reason
// Percentages are of the job's targets (a batch at least 1, rounded up; a
// threshold rounded down). The threshold is judged between batches, so a
// batch that started runs to its end.
#include <boost/json/object.hpp>

#include <cstddef>
#include <optional>
#include <string>

#include "core/result.hpp"

namespace steward::jobs {

struct RolloutSpec {
  std::optional<boost::json::value> batch;
  std::optional<boost::json::value> max_failures;
  bool active() const { return batch || max_failures; }
};

// Takes "batch" and "max_failures" out of `args` (they say how to run the
// job, not what the operation does); InvalidArgument naming the key when
// one is not a positive count (batch) or a count (threshold), or a
// percentage "P%" with P in 1..100 (batch) or 0..100 (threshold).
Result<RolloutSpec> take_rollout(boost::json::object& args);

struct Rollout {
  std::size_t batch = 0;                    // 0: every target at once
  std::optional<std::size_t> max_failures;  // unset: no threshold
};

// The sizes for a job of `targets` targets (the spec was checked).
Rollout resolve_rollout(const RolloutSpec& spec, std::size_t targets);

// Why the targets left were skipped.
std::string threshold_reason(std::size_t failures, std::size_t targets, std::size_t max_failures);

}  // namespace steward::jobs
