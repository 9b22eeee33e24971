#pragma once
// Runs one pipeline on the Asio event loop: pre -> start -> wait `duration`
// -> stop -> post. A failure in pre, start or stop (unless ignore_exitcode)
// fails the run and jumps to post; post always runs and its failures are
// recorded but do not change the run's state. Async tasks run in the
// background and are terminated when the run ends, unless `detach: true`;
// their own failure is recorded but does not fail the run (nothing waits on
// them). Cancel of a request task takes effect within about a second (libcurl
// polls its progress callback that often).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cancel.hpp"
#include "core/result.hpp"
#include "tasks/http_request.hpp"
#include "tasks/pipeline.hpp"
#include "tasks/run_record.hpp"
#include "transport/transport.hpp"

namespace steward::tasks {

// One target's part of a remote (`target:`) task.
struct RemoteOutcome {
  std::string target;
  Result<transport::ExecOutcome> outcome;
};

// Runs `request` on every inventory target matching `pattern`; supplied by the
// integrator (the scheduler), so this library does not depend on it. The
// references stay valid until the returned awaitable completes.
using RemoteExec = std::function<boost::asio::awaitable<Result<std::vector<RemoteOutcome>>>(
    const std::string& pattern, const transport::ExecRequest& request, CancelToken cancel)>;

// Called on the loop after each task finishes and when the run ends, with
// the whole record, so a server can persist it.
using ProgressCallback = std::function<void(const boost::json::object& record)>;

struct RunnerOptions {
  RemoteExec remote_exec;  // empty: `target:` tasks fail
  ProgressCallback on_progress;
  std::shared_ptr<HttpClient> http;  // empty: the runner makes its own
  std::chrono::milliseconds retry_backoff{500};  // doubles per retry ...
  std::chrono::milliseconds retry_backoff_cap{8000};  // ... up to this
  std::chrono::milliseconds kill_grace{2000};  // SIGTERM to SIGKILL on timeout or terminate
  std::size_t output_cap = exec::kDefaultOutputCap;  // per stream, per task
  std::size_t tail_lines = kDefaultTailLines;        // kept of a failing task without notify
};

class PipelineRunner : public std::enable_shared_from_this<PipelineRunner> {
 public:
  static std::shared_ptr<PipelineRunner> create(Pipeline pipeline, RunnerOptions options);

  // Runs the pipeline once and returns the final record (a second call
  // returns the record without running again). Keep the runner
  // alive (its shared_ptr) until this completes; detached tasks keep it
  // alive by themselves afterwards.
  boost::asio::awaitable<boost::json::object> run(std::chrono::milliseconds duration);

  // Ends the current task (its process group) and the wait, skips to post,
  // and marks the run cancelled. A cancel while post runs ends post too.
  // Call on the loop.
  void cancel(std::string reason = "cancelled");

 private:
  struct Background;
  PipelineRunner(Pipeline pipeline, RunnerOptions options);

  boost::asio::awaitable<bool> run_stage(Stage stage, CancelToken cancel);
  boost::asio::awaitable<bool> run_task(Stage stage, std::size_t index, CancelToken cancel);
  static boost::asio::awaitable<void> run_background(std::shared_ptr<PipelineRunner> self,
                                                     std::shared_ptr<Background> task);
  boost::asio::awaitable<void> end_background_tasks();
  void report();

  Pipeline pipeline_;
  std::shared_ptr<const RunnerOptions> options_;
  RunRecord record_;
  CancelToken run_cancel_ = make_cancel_token();
  CancelToken post_cancel_ = make_cancel_token();
  bool in_post_ = false;
  bool ended_ = false;
  std::vector<std::shared_ptr<Background>> background_;
  std::optional<boost::asio::steady_timer> background_changed_;
};

}  // namespace steward::tasks
