#pragma once
// Pipelines as jobs: the `tasks` operation runs one pipeline of the task file
// (args {"name", "duration"} and nothing else: callers pick a pipeline, they
// cannot change what it runs). Its progress goes to the job's output, one
// line per finished task; the final run record is the result's `facts`.
#include <memory>

#include "ops/operation.hpp"
#include "tasks/pipeline.hpp"
#include "tasks/runner.hpp"

namespace steward::tasks {

// `file` and the callbacks in `options` must outlive the operation.
std::unique_ptr<ops::Operation> make_tasks_operation(const TaskFile& file, RunnerOptions options);

// The pipelines and their tasks by stage, for listing.
boost::json::object describe(const TaskFile& file);

// Where pipelines run: the server itself.
Target server_target();

}  // namespace steward::tasks
