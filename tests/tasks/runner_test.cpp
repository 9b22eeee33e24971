#include "tasks/runner.hpp"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "task_test_support.hpp"

namespace steward::tasks::test {
namespace {

TEST(Runner, StagesRunInOrderPreStartStopPost) {
  Scratch s;
  std::string log = s.path("log");
  int progress_calls = 0;
  auto options = fast_options();
  options.on_progress = [&](const boost::json::object&) { ++progress_calls; };
  auto started = std::chrono::steady_clock::now();
  auto record = run_pipeline("exec:\n"
                             "  post: [{shell_exec: 'echo post >> " + log + "'}]\n"
                             "  stop: [{shell_exec: 'echo stop >> " + log + "'}]\n"
                             "  pre: [{shell_exec: 'echo pre >> " + log + "'}]\n"
                             "  start: [{exec: [/bin/sh, -c, 'echo start >> " + log + "']}]\n",
                             300ms, options);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);  // the duration was waited
  EXPECT_EQ(s.read("log"), "pre\nstart\nstop\npost\n");
  EXPECT_EQ(str(record.at("state")), "ok");
  EXPECT_EQ(str(task_of(record, "start", 0).at("status")), "ok");
  EXPECT_EQ(task_of(record, "start", 0).at("exit_code").as_int64(), 0);
  EXPECT_FALSE(task_of(record, "pre", 0).contains("stdout"));  // ok without notify: no output kept
  EXPECT_GE(progress_calls, 5);  // start of run, 4 tasks, end of run
}

TEST(Runner, FailingStartJumpsToPostAndSkipsStop) {
  Scratch s;
  std::string log = s.path("log");
  auto record = run_pipeline("exec:\n"
                             "  pre: [{shell_exec: 'echo pre >> " + log + "'}]\n"
                             "  start:\n"
                             "    - {name: boom, shell_exec: 'echo start >> " + log + "; exit 3'}\n"
                             "    - {shell_exec: 'echo start2 >> " + log + "'}\n"
                             "  stop: [{shell_exec: 'echo stop >> " + log + "'}]\n"
                             "  post: [{shell_exec: 'echo post >> " + log + "'}]\n",
                             5s);  // the wait is skipped too
  EXPECT_EQ(s.read("log"), "pre\nstart\npost\n");
  EXPECT_EQ(str(record.at("state")), "failed");
  EXPECT_EQ(str(record.at("failed_stage")), "start");
  EXPECT_EQ(str(record.at("failed_task")), "boom");
  EXPECT_EQ(str(record.at("error")), "exit code 3");
  EXPECT_EQ(task_of(record, "start", 0).at("exit_code").as_int64(), 3);
  EXPECT_EQ(str(task_of(record, "start", 1).at("status")), "skipped");
  EXPECT_EQ(str(task_of(record, "stop", 0).at("status")), "skipped");
  EXPECT_EQ(str(task_of(record, "post", 0).at("status")), "ok");
  EXPECT_LT(record.at("elapsed").as_double(), 4.0);
}

TEST(Runner, IgnoreExitcodeContinues) {
  Scratch s;
  std::string log = s.path("log");
  auto record = run_pipeline("exec:\n"
                             "  start:\n"
                             "    - {shell_exec: 'exit 1', ignore_exitcode: true}\n"
                             "    - {shell_exec: 'echo after >> " + log + "'}\n");
  EXPECT_EQ(s.read("log"), "after\n");
  EXPECT_EQ(str(record.at("state")), "ok");
  EXPECT_EQ(str(task_of(record, "start", 0).at("status")), "failed");
  EXPECT_TRUE(task_of(record, "start", 0).at("ignored").as_bool());
}

TEST(Runner, PostErrorsAreRecordedButDoNotFailTheRun) {
  Scratch s;
  std::string log = s.path("log");
  auto record = run_pipeline("exec:\n"
                             "  start: [{exec: /bin/true}]\n"
                             "  post:\n"
                             "    - {shell_exec: 'echo oops >&2; exit 4'}\n"
                             "    - {shell_exec: 'echo second >> " + log + "'}\n");
  EXPECT_EQ(str(record.at("state")), "ok");
  EXPECT_FALSE(record.contains("failed_stage"));
  const auto& failed = task_of(record, "post", 0);
  EXPECT_EQ(str(failed.at("status")), "failed");
  EXPECT_EQ(failed.at("exit_code").as_int64(), 4);
  EXPECT_EQ(str(failed.at("stderr")), "oops\n");
  EXPECT_EQ(s.read("log"), "second\n");  // post goes on after a failure
}

TEST(Runner, RetriesUntilSuccess) {
  Scratch s;
  std::string counter = s.path("counter");
  auto record = run_pipeline("exec:\n"
                             "  start:\n"
                             "    - shell_exec: 'n=$(cat " + counter + " 2>/dev/null || echo 0); n=$((n+1)); "
                             "echo $n > " + counter + "; test $n -ge 3'\n"
                             "      retries: 5\n"
                             "  stop: [{exec: /bin/false, retries: 1}]\n");
  EXPECT_EQ(s.read("counter"), "3\n");
  const auto& retried = task_of(record, "start", 0);
  EXPECT_EQ(str(retried.at("status")), "ok");
  EXPECT_EQ(retried.at("attempts").as_int64(), 3);
  const auto& exhausted = task_of(record, "stop", 0);
  EXPECT_EQ(str(exhausted.at("status")), "failed");
  EXPECT_EQ(exhausted.at("attempts").as_int64(), 2);
  EXPECT_EQ(str(record.at("state")), "failed");
}

TEST(Runner, TimeoutKillsTheWholeProcessGroup) {
  Scratch s;
  std::string pid_file = s.path("child.pid");
  auto started = std::chrono::steady_clock::now();
  auto record = run_pipeline("exec:\n"
                             "  start:\n"
                             "    - {shell_exec: 'sleep 30 & echo $! > " + pid_file + "; wait', timeout: 0.5}\n");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  const auto& task = task_of(record, "start", 0);
  EXPECT_EQ(str(task.at("status")), "failed");
  EXPECT_NE(str(task.at("error")).find("timed out"), std::string::npos) << task;
  pid_t child = read_pid(pid_file);
  ASSERT_GT(child, 0);
  EXPECT_FALSE(process_alive(child));
}

TEST(Runner, AsyncTaskIsTerminatedAtRunEnd) {
  Scratch s;
  std::string pid_file = s.path("async.pid");
  auto record = run_pipeline("exec:\n"
                             "  start: [{shell_exec: 'echo $$ > " + pid_file + "; exec sleep 30', async: true}]\n"
                             "  stop: [{exec: /bin/true}]\n",
                             300ms);
  EXPECT_EQ(str(record.at("state")), "ok");
  EXPECT_EQ(str(task_of(record, "start", 0).at("status")), "terminated");
  pid_t pid = read_pid(pid_file);
  ASSERT_GT(pid, 0);
  EXPECT_FALSE(process_alive(pid));
}

TEST(Runner, DetachedAsyncTaskIsLeftRunning) {
  Scratch s;
  std::string pid_file = s.path("detached.pid");
  boost::asio::io_context io;  // outlives the runner, whose timers it serves
  auto runner = PipelineRunner::create(
      pipeline_from("exec:\n  start: [{shell_exec: 'echo $$ > " + pid_file +
                    "; exec sleep 30', async: true, detach: true}]\n"),
      fast_options());
  std::optional<boost::json::object> record;
  boost::asio::co_spawn(io, runner->run(300ms), [&](std::exception_ptr, boost::json::object r) { record = r; });
  while (!record && io.run_one()) {
  }
  ASSERT_TRUE(record);
  EXPECT_EQ(str(task_of(*record, "start", 0).at("status")), "detached");
  pid_t pid = read_pid(pid_file);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), 0);  // still running after the run ended
  ::kill(pid, SIGKILL);
  io.run();  // the detached watcher ends once its process is gone
  EXPECT_FALSE(process_alive(pid));
}

TEST(Runner, NotifyKeepsAllOutputOtherwiseOnlyTheTailOfAFailure) {
  auto record = run_pipeline("exec:\n"
                             "  pre: [{shell_exec: 'seq 1 30', notify: true}]\n"
                             "  start: [{shell_exec: 'seq 1 30'}]\n"
                             "  post: [{shell_exec: 'seq 1 30; exit 1'}]\n");
  std::string all;
  for (int i = 1; i <= 30; ++i) all += std::to_string(i) + "\n";
  EXPECT_EQ(str(task_of(record, "pre", 0).at("stdout")), all);
  EXPECT_FALSE(task_of(record, "start", 0).contains("stdout"));
  EXPECT_EQ(str(task_of(record, "post", 0).at("stdout")), all.substr(all.find("11\n")));  // last 20 lines
}

TEST(Runner, RemoteTargetGoesThroughTheCallback) {
  std::vector<std::string> patterns;
  std::vector<std::vector<std::string>> argvs;
  auto options = fast_options();
  options.remote_exec = [&](const std::string& pattern, const transport::ExecRequest& request,
                            CancelToken) -> boost::asio::awaitable<Result<std::vector<RemoteOutcome>>> {
    patterns.push_back(pattern);
    argvs.push_back(request.argv);
    transport::ExecOutcome ok;
    ok.exit_code = 0;
    transport::ExecOutcome bad;
    bad.exit_code = pattern == "db*" ? 2 : 0;
    bad.stderr_data = "disk full\n";
    co_return std::vector<RemoteOutcome>{{"web1", ok}, {"db1", bad}};
  };
  auto record = run_pipeline("exec:\n"
                             "  start: [{exec: [/usr/bin/uptime, -p], target: 'web*'}]\n"
                             "  stop: [{shell_exec: 'df -h', target: 'db*'}]\n",
                             0ms, options);
  EXPECT_EQ(patterns, (std::vector<std::string>{"web*", "db*"}));
  EXPECT_EQ(argvs[0], (std::vector<std::string>{"/usr/bin/uptime", "-p"}));
  EXPECT_EQ(argvs[1], (std::vector<std::string>{"/bin/sh", "-c", "df -h"}));
  EXPECT_EQ(str(task_of(record, "start", 0).at("status")), "ok");
  const auto& stop = task_of(record, "stop", 0);
  EXPECT_EQ(str(stop.at("status")), "failed");
  EXPECT_EQ(str(stop.at("targets").at("db1").at("stderr")), "disk full\n");
  EXPECT_NE(str(stop.at("error")).find("db1: exit code 2"), std::string::npos);
  EXPECT_EQ(str(record.at("state")), "failed");
}

TEST(Runner, CancelEndsTheCurrentTaskAndStillRunsPost) {
  Scratch s;
  std::string log = s.path("log");
  boost::asio::io_context io;  // outlives the runner, whose timers it serves
  auto runner = PipelineRunner::create(pipeline_from("exec:\n"
                                                     "  start: [{exec: [sleep, '30']}]\n"
                                                     "  post: [{shell_exec: 'echo post >> " + log + "'}]\n"),
                                       fast_options());
  boost::asio::steady_timer timer(io, 200ms);
  timer.async_wait([&](auto) { runner->cancel("stopped by test"); });
  auto started = std::chrono::steady_clock::now();
  auto record = steward::testing::run_sync(io, runner->run(0ms));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(str(record.at("state")), "cancelled");
  EXPECT_EQ(str(record.at("error")), "stopped by test");
  EXPECT_EQ(str(task_of(record, "start", 0).at("status")), "terminated");
  EXPECT_EQ(s.read("log"), "post\n");
}

}  // namespace
}  // namespace steward::tasks::test
