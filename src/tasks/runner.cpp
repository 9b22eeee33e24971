#include "tasks/runner.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>

#include "tasks/task_attempt.hpp"
#include "core/spawn.hpp"

// Every co_await below stands in a statement of its own, apart from the call
// that builds the awaitable: GCC 12 destroys temporaries of a full-expression
// holding a co_await twice (PR 99576).

namespace steward::tasks {
namespace asio = boost::asio;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

namespace {

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Sleeps `delay`, or less when `cancel` fires.
awaitable<void> sleep_for(std::chrono::milliseconds delay, CancelToken cancel) {
  if (delay.count() <= 0 || (cancel && cancel->cancelled())) co_return;
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex, delay);
  CancelState::Registration on_cancel;
  if (cancel) on_cancel = cancel->on_cancel([weak = std::weak_ptr<asio::steady_timer>(timer)] {
      if (auto t = weak.lock()) t->cancel();
    });
  auto waiting = timer->async_wait(asio::as_tuple(asio::use_awaitable));
  co_await std::move(waiting);
}

std::chrono::milliseconds backoff_before(int retry, const RunnerOptions& options) {
  auto delay = options.retry_backoff;
  for (int i = 1; i < retry && delay < options.retry_backoff_cap; ++i) delay *= 2;
  return std::min(delay, options.retry_backoff_cap);
}

}  // namespace

struct PipelineRunner::Background {
  Stage stage;
  std::size_t index;
  bool detach = false;
  bool done = false;
  CancelToken cancel = make_cancel_token();  // its own: the run's cancel must not end a detached task
};

std::shared_ptr<PipelineRunner> PipelineRunner::create(Pipeline pipeline, RunnerOptions options) {
  if (!options.http) options.http = std::make_shared<HttpClient>();
  return std::shared_ptr<PipelineRunner>(new PipelineRunner(std::move(pipeline), std::move(options)));
}

PipelineRunner::PipelineRunner(Pipeline pipeline, RunnerOptions options)
    : pipeline_(std::move(pipeline)),
      options_(std::make_shared<const RunnerOptions>(std::move(options))),
      record_(initial_record(pipeline_)) {}

void PipelineRunner::cancel(std::string reason) {
  if (ended_) return;
  if (!run_cancel_->cancelled() && record_.error.empty()) record_.error = reason;
  if (in_post_) post_cancel_->cancel(reason);
  run_cancel_->cancel(std::move(reason));
}

void PipelineRunner::report() {
  if (options_->on_progress) options_->on_progress(record_.to_json());
}

awaitable<boost::json::object> PipelineRunner::run(std::chrono::milliseconds duration) {
  if (record_.state != "pending") co_return record_.to_json();  // a runner runs once
  auto self = shared_from_this();  // background tasks may outlive the caller's reference
  auto started = Clock::now();
  auto ex = co_await asio::this_coro::executor;
  background_changed_.emplace(ex);
  record_.state = "running";
  record_.requested_duration = duration;
  report();

  bool ok = true;
  for (Stage stage : {Stage::Pre, Stage::Start, Stage::Stop}) {
    if (stage == Stage::Stop) {
      // Between start and stop: the measurement window.
      auto waiting = sleep_for(duration, run_cancel_);
      co_await std::move(waiting);
      ok = !run_cancel_->cancelled();
      if (!ok) break;
    }
    auto running = run_stage(stage, run_cancel_);
    ok = co_await std::move(running);
    if (!ok) break;
  }

  // Post has its own token: a cancelled run still cleans up.
  in_post_ = true;
  auto cleaning = run_stage(Stage::Post, post_cancel_);
  co_await std::move(cleaning);
  co_await end_background_tasks();

  for (auto& stage : record_.stages) {
    for (auto& task : stage) {
      if (task.status == TaskStatus::Pending) task.status = TaskStatus::Skipped;
    }
  }
  record_.state = run_cancel_->cancelled() ? "cancelled" : ok ? "ok" : "failed";
  record_.elapsed = since(started);
  ended_ = true;
  report();
  co_return record_.to_json();
}

awaitable<bool> PipelineRunner::run_stage(Stage stage, CancelToken cancel) {
  const auto& tasks = pipeline_.stage(stage);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (cancel->cancelled()) co_return false;
    if (tasks[i].async) {
      auto task = std::make_shared<Background>(Background{stage, i, tasks[i].detach});
      background_.push_back(task);
      record_.task(stage, i).status = TaskStatus::Running;
      auto ex = co_await asio::this_coro::executor;
      asio::co_spawn(ex, run_background(shared_from_this(), std::move(task)), log_failure("an async task"));
      continue;
    }
    auto running = run_task(stage, i, cancel);
    bool ok = co_await std::move(running);
    if (ok || tasks[i].ignore_exitcode || stage == Stage::Post) continue;
    // The first failure names the run's failure; post's never do.
    if (record_.failed_stage.empty()) {
      record_.failed_stage = to_string(stage);
      record_.failed_task = tasks[i].display_name();
      if (!cancel->cancelled()) record_.error = record_.task(stage, i).error;
    }
    co_return false;
  }
  co_return !cancel->cancelled();
}

awaitable<bool> PipelineRunner::run_task(Stage stage, std::size_t index, CancelToken cancel) {
  const Task& task = pipeline_.stage(stage)[index];
  auto started = Clock::now();
  record_.task(stage, index).status = TaskStatus::Running;
  AttemptOutcome outcome;
  int attempts = 0;
  for (int attempt = 1; attempt <= task.retries + 1; ++attempt) {
    attempts = attempt;
    record_.task(stage, index).attempts = attempt;
    auto running = run_attempt(task, options_, cancel);
    outcome = co_await std::move(running);
    if (outcome.ok || outcome.cancelled || cancel->cancelled() || attempt > task.retries) break;
    auto waiting = sleep_for(backoff_before(attempt, *options_), cancel);
    co_await std::move(waiting);
  }
  // A detached task that ends after its run has ended no longer reports.
  if (ended_) co_return outcome.ok;

  TaskRecord& rec = record_.task(stage, index);
  rec.attempts = attempts;
  rec.duration = since(started);
  rec.exit_code = outcome.exit_code;
  rec.http_status = outcome.http_status;
  rec.error = outcome.error;
  rec.targets = std::move(outcome.targets);
  bool terminated = outcome.cancelled || (cancel->cancelled() && !outcome.ok);
  rec.status = outcome.ok ? TaskStatus::Ok : terminated ? TaskStatus::Terminated : TaskStatus::Failed;
  rec.ignored = !outcome.ok && (task.ignore_exitcode || stage == Stage::Post || task.async);
  if (task.notify) {
    rec.stdout_data = std::move(outcome.stdout_data);
    rec.stderr_data = std::move(outcome.stderr_data);
  } else if (!outcome.ok) {
    rec.stdout_data = last_lines(outcome.stdout_data, options_->tail_lines);
    rec.stderr_data = last_lines(outcome.stderr_data, options_->tail_lines);
  }
  report();
  co_return outcome.ok;
}

awaitable<void> PipelineRunner::run_background(std::shared_ptr<PipelineRunner> self,
                                               std::shared_ptr<Background> task) {
  auto running = self->run_task(task->stage, task->index, task->cancel);
  co_await std::move(running);
  task->done = true;
  if (self->background_changed_) self->background_changed_->cancel();
}

awaitable<void> PipelineRunner::end_background_tasks() {
  for (auto& task : background_) {
    if (task->done) continue;
    if (task->detach) {
      record_.task(task->stage, task->index).status = TaskStatus::Detached;
    } else {
      task->cancel->cancel("the run ended");
    }
  }
  // Wait until every terminated task has reaped its process group.
  auto still_running = [this] {
    for (const auto& task : background_) {
      if (!task->done && !task->detach) return true;
    }
    return false;
  };
  while (still_running()) {
    background_changed_->expires_at(asio::steady_timer::time_point::max());
    auto waiting = background_changed_->async_wait(asio::as_tuple(asio::use_awaitable));
    co_await std::move(waiting);
  }
}

}  // namespace steward::tasks
