#pragma once
// Staged task pipelines in the servo-exec YAML format: a top-level `exec:`
// block (the pipeline "default") and/or `pipelines: {NAME: {...}}`, each with
// the stages pre, start, stop, post, each a list of tasks. Parsing validates
// everything up front so a run never fails on a typo halfway through.
#include <array>
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace steward::tasks {

enum class Stage { Pre, Start, Stop, Post };
constexpr std::array<Stage, 4> kStages{Stage::Pre, Stage::Start, Stage::Stop, Stage::Post};
const char* to_string(Stage stage);

enum class TaskMode { Exec, ShellExec, Request };
const char* to_string(TaskMode mode);

// An inclusive range of HTTP status codes; a single code is {c, c}.
struct StatusRange {
  int low = 200;
  int high = 399;
};

struct HttpRequestSpec {
  std::string method = "GET";
  std::string url;
  std::chrono::milliseconds timeout{10000};  // `http_timeout`
  std::string data;
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;
  std::vector<StatusRange> success_codes{StatusRange{}};

  bool accepts(long status) const;
};

struct Task {
  std::string name;  // as written; may be empty (see display_name)
  int line = 0;      // where the task starts in its file
  TaskMode mode = TaskMode::Exec;
  // Exec: the program then its arguments, no shell. ShellExec: the script,
  // then (from a list) the shell's positional parameters $0, $1, ...
  std::vector<std::string> argv;
  HttpRequestSpec request;  // Request only
  std::string target;       // inventory pattern; empty runs on the server itself
  bool async = false;
  bool detach = false;  // async only: left running when the run ends
  bool ignore_exitcode = false;
  bool notify = false;  // keep the task's whole output in the run record
  int retries = 0;
  std::chrono::milliseconds timeout{0};  // 0: none

  // The name, or a short rendering of what the task runs.
  std::string display_name() const;
};

struct Pipeline {
  std::string name;
  std::array<std::vector<Task>, 4> stages;  // indexed by Stage

  const std::vector<Task>& stage(Stage s) const { return stages[static_cast<std::size_t>(s)]; }
  std::vector<Task>& stage(Stage s) { return stages[static_cast<std::size_t>(s)]; }
};

struct TaskFile {
  std::string origin;  // the file name errors refer to
  std::map<std::string, Pipeline> pipelines;

  const Pipeline* find(const std::string& name) const;
};

// InvalidArgument listing every problem, one per line, each like
// `tasks.yaml:12: pipeline default, stage start, task "warm up": unknown key 'exce'`.
Result<TaskFile> parse_task_file(std::string_view text, const std::string& origin);

// As parse_task_file; NotFound when the file cannot be read.
Result<TaskFile> load_task_file(const std::string& path);

}  // namespace steward::tasks
