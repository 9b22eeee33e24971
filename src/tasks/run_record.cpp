#include "tasks/run_record.hpp"

#include <boost/json/array.hpp>

namespace steward::tasks {

const char* to_string(TaskStatus status) {
  switch (status) {
    case TaskStatus::Pending: return "pending";
    case TaskStatus::Running: return "running";
    case TaskStatus::Ok: return "ok";
    case TaskStatus::Failed: return "failed";
    case TaskStatus::Skipped: return "skipped";
    case TaskStatus::Terminated: return "terminated";
    case TaskStatus::Detached: return "detached";
  }
  return "?";
}

std::string last_lines(const std::string& text, std::size_t lines) {
  if (lines == 0) return {};
  std::size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;
  std::size_t pos = end;
  while (pos > 0) {
    std::size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    if (--lines == 0) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

namespace {
double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }
}  // namespace

boost::json::object TaskRecord::to_json() const {
  boost::json::object out;
  out["name"] = name;
  out["mode"] = to_string(mode);
  if (!target.empty()) out["target"] = target;
  if (async) out["async"] = true;
  if (detach) out["detach"] = true;
  out["status"] = to_string(status);
  if (ignored) out["ignored"] = true;
  out["attempts"] = attempts;
  if (exit_code) out["exit_code"] = *exit_code;
  if (http_status) out["http_status"] = *http_status;
  out["duration"] = seconds(duration);
  if (!error.empty()) out["error"] = error;
  if (stdout_data) out["stdout"] = *stdout_data;
  if (stderr_data) out["stderr"] = *stderr_data;
  if (!targets.empty()) out["targets"] = targets;
  return out;
}

boost::json::object RunRecord::to_json() const {
  boost::json::object out;
  out["pipeline"] = pipeline;
  out["state"] = state;
  out["duration"] = seconds(requested_duration);
  out["elapsed"] = seconds(elapsed);
  if (!failed_stage.empty()) out["failed_stage"] = failed_stage;
  if (!failed_task.empty()) out["failed_task"] = failed_task;
  if (!error.empty()) out["error"] = error;
  boost::json::object stage_map;
  for (Stage stage : kStages) {
    boost::json::array list;
    for (const auto& task : stages[static_cast<std::size_t>(stage)]) list.push_back(task.to_json());
    stage_map[to_string(stage)] = std::move(list);
  }
  out["stages"] = std::move(stage_map);
  return out;
}

RunRecord initial_record(const Pipeline& pipeline) {
  RunRecord record;
  record.pipeline = pipeline.name;
  for (Stage stage : kStages) {
    for (const auto& task : pipeline.stage(stage)) {
      TaskRecord t;
      t.name = task.display_name();
      t.mode = task.mode;
      t.target = task.target;
      t.async = task.async;
      t.detach = task.detach;
      record.stages[static_cast<std::size_t>(stage)].push_back(std::move(t));
    }
  }
  return record;
}

}  // namespace steward::tasks
