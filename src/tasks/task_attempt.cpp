#include "tasks/task_attempt.hpp"

#include <algorithm>

#include "exec/process.hpp"

namespace steward::tasks {
namespace asio = boost::asio;

std::vector<std::string> task_argv(const Task& task) {
  if (task.mode != TaskMode::ShellExec) return task.argv;
  // Like Python's Popen(list, shell=True): the first item is the script, the
  // rest become $0, $1, ... of the shell.
  std::vector<std::string> argv{"/bin/sh", "-c"};
  argv.insert(argv.end(), task.argv.begin(), task.argv.end());
  return argv;
}

namespace {

std::string seconds_text(std::chrono::milliseconds ms) {
  auto text = std::to_string(static_cast<double>(ms.count()) / 1000.0);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text + " s";
}

// Why a finished process counts as a failure; empty when it succeeded.
std::string process_failure(const exec::ProcessOutcome& p, std::chrono::milliseconds timeout) {
  if (p.cancelled) return "cancelled";
  if (p.timed_out) return "timed out after " + seconds_text(timeout);
  if (p.signal != 0) return "killed by signal " + std::to_string(p.signal);
  if (p.exit_code != 0) return "exit code " + std::to_string(p.exit_code);
  return {};
}

asio::awaitable<AttemptOutcome> run_local(Task task, std::shared_ptr<const RunnerOptions> options,
                                          CancelToken cancel) {
  exec::ProcessSpec spec;
  spec.argv = task_argv(task);
  spec.timeout = task.timeout;
  spec.kill_grace = options->kill_grace;
  spec.output_cap = options->output_cap;
  spec.keep_tail = !task.notify;  // without notify only the last lines are ever shown
  AttemptOutcome out;
  // The awaitable is built in a statement of its own: GCC 12 destroys
  // temporaries of a full-expression holding a co_await twice (PR 99576).
  auto running = exec::run_process(std::move(spec), exec::ChunkSink{}, cancel);
  auto result = co_await std::move(running);
  if (!result.ok()) {
    out.error = result.error().message;
    co_return out;
  }
  auto& p = *result;
  out.cancelled = p.cancelled;
  if (p.signal == 0) out.exit_code = p.exit_code;
  out.error = process_failure(p, task.timeout);
  out.ok = out.error.empty();
  out.stdout_data = std::move(p.stdout_data);
  out.stderr_data = std::move(p.stderr_data);
  co_return out;
}

asio::awaitable<AttemptOutcome> run_remote(Task task, std::shared_ptr<const RunnerOptions> options,
                                           CancelToken cancel) {
  AttemptOutcome out;
  if (!options->remote_exec) {
    out.error = "no remote executor configured for target '" + task.target + "'";
    co_return out;
  }
  transport::ExecRequest request;
  request.argv = task_argv(task);
  request.timeout = task.timeout;
  request.output_cap = options->output_cap;
  request.keep_tail = !task.notify;
  std::string pattern = task.target;
  auto running = options->remote_exec(pattern, request, cancel);
  auto result = co_await std::move(running);
  if (!result.ok()) {
    out.error = result.error().message;
    out.cancelled = cancel && cancel->cancelled();
    co_return out;
  }
  if (result->empty()) {
    out.error = "pattern '" + task.target + "' matched no targets";
    co_return out;
  }
  std::vector<std::string> failed;
  for (auto& remote : *result) {
    boost::json::object entry;
    std::string failure;
    if (!remote.outcome.ok()) {
      failure = remote.outcome.error().message;
    } else {
      auto& p = *remote.outcome;
      failure = process_failure(p, task.timeout);
      out.cancelled = out.cancelled || p.cancelled;
      if (p.signal == 0) entry["exit_code"] = p.exit_code;
      if (p.signal == 0 && (!out.exit_code || *out.exit_code == 0)) out.exit_code = p.exit_code;
      if (task.notify || !failure.empty()) {
        entry["stdout"] = task.notify ? p.stdout_data : last_lines(p.stdout_data, options->tail_lines);
        entry["stderr"] = task.notify ? p.stderr_data : last_lines(p.stderr_data, options->tail_lines);
      }
    }
    if (!failure.empty()) {
      entry["error"] = failure;
      failed.push_back(remote.target + ": " + failure);
    }
    out.targets[remote.target] = std::move(entry);
  }
  out.ok = failed.empty();
  for (const auto& f : failed) out.error += (out.error.empty() ? "" : "; ") + f;
  co_return out;
}

asio::awaitable<AttemptOutcome> run_request(Task task, std::shared_ptr<const RunnerOptions> options,
                                            CancelToken cancel) {
  AttemptOutcome out;
  HttpRequestSpec request = task.request;
  if (task.timeout.count() > 0) request.timeout = std::min(request.timeout, task.timeout);
  auto performing = options->http->perform(std::move(request), cancel);
  auto result = co_await std::move(performing);
  if (!result.ok()) {
    out.error = result.error().message;
    out.cancelled = result.error().code == ErrorCode::Cancelled;
    co_return out;
  }
  out.http_status = result->status;
  out.stdout_data = std::move(result->body);
  out.ok = task.request.accepts(result->status);
  if (!out.ok) out.error = "HTTP status " + std::to_string(result->status) + " is not in success_codes";
  co_return out;
}

}  // namespace

asio::awaitable<AttemptOutcome> run_attempt(Task task, std::shared_ptr<const RunnerOptions> options,
                                            CancelToken cancel) {
  bool remote = !task.target.empty();
  auto attempt = task.mode == TaskMode::Request ? run_request(std::move(task), std::move(options), cancel)
                 : remote                       ? run_remote(std::move(task), std::move(options), cancel)
                                                : run_local(std::move(task), std::move(options), cancel);
  auto outcome = co_await std::move(attempt);
  co_return outcome;
}

}  // namespace steward::tasks
