#pragma once
// What one pipeline run did, task by task; rendered as JSON for the store,
// the API and progress callbacks.
#include <boost/json/object.hpp>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tasks/pipeline.hpp"

namespace steward::tasks {

// Pending: not reached yet; turns into Skipped if the run ends first.
enum class TaskStatus { Pending, Running, Ok, Failed, Skipped, Terminated, Detached };
const char* to_string(TaskStatus status);

constexpr std::size_t kDefaultTailLines = 20;

// The last `lines` lines of `text` (a trailing newline does not count as a line).
std::string last_lines(const std::string& text, std::size_t lines);

struct TaskRecord {
  std::string name;
  TaskMode mode = TaskMode::Exec;
  std::string target;
  bool async = false;
  bool detach = false;
  TaskStatus status = TaskStatus::Pending;
  bool ignored = false;  // failed under ignore_exitcode (or in post): did not fail the run
  int attempts = 0;
  std::optional<int> exit_code;
  std::optional<long> http_status;
  std::chrono::milliseconds duration{0};
  std::string error;
  std::optional<std::string> stdout_data, stderr_data;
  boost::json::object targets;  // remote tasks: per target {exit_code, error, stdout, stderr}

  boost::json::object to_json() const;
};

struct RunRecord {
  std::string pipeline;
  std::string state = "pending";  // pending, running, ok, failed, cancelled
  std::chrono::milliseconds requested_duration{0};
  std::chrono::milliseconds elapsed{0};
  std::string failed_stage, failed_task, error;
  std::array<std::vector<TaskRecord>, 4> stages;

  TaskRecord& task(Stage stage, std::size_t index) { return stages[static_cast<std::size_t>(stage)][index]; }
  boost::json::object to_json() const;
};

// A record with every task of `pipeline` Pending.
RunRecord initial_record(const Pipeline& pipeline);

}  // namespace steward::tasks
