#pragma once
// One attempt of one task: a local process, a remote run through the
// integrator's callback, or an HTTP request. Retries live in the runner.
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <string>

#include "core/cancel.hpp"
#include "tasks/pipeline.hpp"
#include "tasks/runner.hpp"

namespace steward::tasks {

struct AttemptOutcome {
  bool ok = false;
  bool cancelled = false;
  std::optional<int> exit_code;
  std::optional<long> http_status;
  std::string error;
  std::string stdout_data, stderr_data;  // for a request: the response body as stdout
  boost::json::object targets;           // remote: per target, output already trimmed
};

// Shared by local and remote tasks: the argv a task runs (shell_exec through /bin/sh -c).
std::vector<std::string> task_argv(const Task& task);

boost::asio::awaitable<AttemptOutcome> run_attempt(Task task, std::shared_ptr<const RunnerOptions> options,
                                                   CancelToken cancel);

}  // namespace steward::tasks
