#include "tasks/operation.hpp"

#include <fmt/format.h>

#include <boost/json/array.hpp>

#include "ops/args.hpp"

namespace steward::tasks {
namespace {

using boost::asio::awaitable;
constexpr std::chrono::hours kLongestDuration{24 * 7};

struct RunRequest {
  const Pipeline* pipeline = nullptr;
  std::chrono::milliseconds duration{0};
};

Result<RunRequest> parse(const TaskFile& file, const boost::json::object& args) {
  for (const auto& [key, _] : args) {
    if (key != "name" && key != "duration")
      return make_error(ErrorCode::InvalidArgument,
                        "a pipeline run takes only 'name' and 'duration', not '" + std::string(key) + "'");
  }
  auto name = ops::required_string(args, "name");
  if (!name) return name.error();
  RunRequest request;
  request.pipeline = file.find(*name);
  if (!request.pipeline) {
    std::string known;
    for (const auto& [pipeline, _] : file.pipelines) known += (known.empty() ? "" : ", ") + pipeline;
    return make_error(ErrorCode::NotFound,
                      "no pipeline '" + *name + "' (known: " + (known.empty() ? "none; see --tasks" : known) + ")");
  }
  if (args.contains("duration")) {
    const auto& value = args.at("duration");
    double seconds = value.is_number() ? value.to_number<double>() : -1;
    if (seconds < 0 || seconds > std::chrono::duration<double>(kLongestDuration).count())
      return make_error(ErrorCode::InvalidArgument, "'duration' must be a number of seconds from 0 to one week");
    request.duration = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  }
  return request;
}

// "start/warm up: ok (2 attempts)" for the job's output.
std::string progress_line(const boost::json::object& record, std::size_t& reported) {
  std::string lines;
  std::size_t seen = 0;
  for (const char* stage : {"pre", "start", "stop", "post"}) {
    const auto* tasks = record.at("stages").as_object().if_contains(stage);
    if (!tasks) continue;
    for (const auto& task : tasks->as_array()) {
      const auto& entry = task.as_object();
      const auto status = entry.at("status").as_string();
      if (status == "pending" || status == "running") continue;
      if (++seen <= reported) continue;
      lines += fmt::format("{}/{}: {}", stage, std::string_view(entry.at("name").as_string()), std::string_view(status));
      if (const auto* error = entry.if_contains("error"); error && error->is_string() && !error->as_string().empty())
        lines += " (" + std::string(error->as_string()) + ")";
      lines += "\n";
    }
  }
  reported = seen;
  return lines;
}

class TasksOperation final : public ops::Operation {
 public:
  TasksOperation(const TaskFile& file, RunnerOptions options) : file_(file), options_(std::move(options)) {}

  // One run at a time on the server, as EXEd's mutex runners; others queue on request.
  bool exclusive_per_host() const override { return true; }

  Status validate(const boost::json::object& args) const override {
    auto request = parse(file_, args);
    if (!request) return request.error();
    return {};
  }

  awaitable<OpResult> run(ops::OpContext context, const boost::json::object& args) const override {
    OpResult result;
    auto request = parse(file_, args);
    if (!request) {
      result.state = OpState::Failed;
      result.error = request.error().message;
      co_return result;
    }
    RunnerOptions options = options_;
    auto reported = std::make_shared<std::size_t>(0);
    auto progress = std::make_shared<std::string>();
    options.on_progress = [sink = context.sink, reported, progress](const boost::json::object& record) {
      auto lines = progress_line(record, *reported);
      if (lines.empty()) return;
      *progress += lines;
      if (sink) sink(transport::Stream::Stdout, lines);
    };
    auto runner = PipelineRunner::create(*request->pipeline, std::move(options));
    CancelState::Registration registration;
    if (context.cancel) registration = context.cancel->on_cancel([runner, cancel = context.cancel] {
      runner->cancel(cancel->reason());
    });
    auto running = runner->run(request->duration);
    boost::json::object record = co_await std::move(running);
    const auto state = record.at("state").as_string();
    result.state = state == "ok" ? OpState::Ok : OpState::Failed;
    if (result.state == OpState::Failed) {
      const auto* error = record.if_contains("error");
      result.error = error && error->is_string() && !error->as_string().empty() ? std::string(error->as_string())
                                                                                : "pipeline " + std::string(state);
    }
    result.stdout_data = *progress;
    result.facts = std::move(record);
    co_return result;
  }

 private:
  const TaskFile& file_;
  RunnerOptions options_;
};

}  // namespace

std::unique_ptr<ops::Operation> make_tasks_operation(const TaskFile& file, RunnerOptions options) {
  return std::make_unique<TasksOperation>(file, std::move(options));
}

boost::json::object describe(const TaskFile& file) {
  boost::json::array pipelines;
  for (const auto& [name, pipeline] : file.pipelines) {
    boost::json::object stages;
    for (auto stage : kStages) {
      boost::json::array tasks;
      for (const auto& task : pipeline.stage(stage))
        tasks.push_back({{"name", task.display_name()}, {"mode", to_string(task.mode)}, {"async", task.async},
                         {"target", task.target}});
      stages[to_string(stage)] = std::move(tasks);
    }
    pipelines.push_back({{"name", name}, {"stages", std::move(stages)}});
  }
  return {{"file", file.origin}, {"pipelines", std::move(pipelines)}};
}

Target server_target() {
  Target target;
  target.name = "steward-server";
  target.connection = "local";
  target.max_sessions = 16;
  return target;
}

}  // namespace steward::tasks
